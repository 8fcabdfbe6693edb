package issuer

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Console access: who may use the console (the gate, its sign-in with the admin token, sessions) and the
// CSRF and same-origin check of its forms.

// consoleGate lets through only who may use the console.
func (s *Server) consoleGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch s.console.mode {
		case consoleOpen:
			if !loopbackRemote(r) {
				oauth.Write(w, oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no endpoint at %s", r.URL.Path))
				return
			}
			// A page on another site whose name resolves to 127.0.0.1 (DNS
			// rebinding) reaches the console with its own Host: refuse it.
			if !s.consoleHostAllowed(r.Host) {
				oauth.Write(w, oauth.New(http.StatusForbidden, oauth.CodeAccessDenied, "the console answers only to loopback names (localhost, 127.0.0.1, [::1]) or %s, not %q", s.base.Host, r.Host))
				return
			}
		case consoleToken:
			rel := strings.TrimPrefix(r.URL.Path, s.basePath())
			if !s.consoleSignedIn(r) && rel != "/console/login" {
				if r.Method == http.MethodGet && (rel == "/" || rel == "") {
					s.renderConsoleLogin(w, r, http.StatusOK, "")
					return
				}
				oauth.Write(w, oauth.New(http.StatusUnauthorized, oauth.CodeUnauthorized, "sign in to the console with the admin token first"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackRemote(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) consoleHostAllowed(hostport string) bool {
	if strings.EqualFold(hostport, s.base.Host) {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	host = strings.ToLower(host)
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

func (s *Server) consoleSignedIn(r *http.Request) bool {
	c, err := r.Cookie(consoleSessionCookie)
	if err != nil || c.Value == "" {
		return false
	}
	h := store.Hash(c.Value)
	s.console.mu.Lock()
	defer s.console.mu.Unlock()
	exp, ok := s.console.sessions[h]
	if ok && time.Now().After(exp) {
		delete(s.console.sessions, h)
		return false
	}
	return ok
}

// consoleCSRF checks a console form post: the double-submit token (web.go)
// and, when the browser names them, a same-origin request.
func (s *Server) consoleCSRF(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Errorf("cross-site request (Sec-Fetch-Site: %s)", site)
	}
	// Under Referrer-Policy: no-referrer a browser may send "Origin: null"
	// for a same-origin form; Sec-Fetch-Site (checked above) still tells.
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if o != scheme+"://"+r.Host && o != s.base.Scheme+"://"+s.base.Host {
			return fmt.Errorf("cross-origin form post from %s", o)
		}
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 32 {
		return errors.New("missing CSRF cookie")
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		return errors.New("CSRF token mismatch")
	}
	return nil
}

// consoleLogin trades the admin token for a console session.
func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	if s.console.mode != consoleToken {
		http.Redirect(w, r, s.basePath()+"/", http.StatusSeeOther)
		return
	}
	if err := parseForm(w, r); errors.Is(err, errAnswered) {
		return
	} else if err != nil {
		s.renderConsoleLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if err := s.consoleCSRF(r); err != nil {
		s.log.Warn("console sign-in refused", "reason", err)
		s.renderConsoleLogin(w, r, http.StatusForbidden, "This form expired or came from another site. Try again.")
		return
	}
	now := time.Now()
	if !s.console.guesses.allow("console", now) {
		s.renderConsoleLogin(w, r, http.StatusTooManyRequests, "Too many wrong tokens. Wait a few minutes, then try again.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("token")), []byte(s.cfg.AdminToken)) != 1 {
		s.console.guesses.fail("console", now)
		s.log.Warn("console sign-in with a wrong admin token")
		s.renderConsoleLogin(w, r, http.StatusUnauthorized, "That is not this issuer's admin token.")
		return
	}
	sid := random(32)
	s.console.mu.Lock()
	for h, exp := range s.console.sessions {
		if now.After(exp) {
			delete(s.console.sessions, h)
		}
	}
	s.console.sessions[store.Hash(sid)] = now.Add(s.cfg.SessionTTL)
	s.console.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: consoleSessionCookie, Value: sid, Path: s.cookiePath(), MaxAge: int(s.cfg.SessionTTL.Seconds()),
		HttpOnly: true, Secure: s.base.Scheme == "https" || r.TLS != nil, SameSite: http.SameSiteStrictMode})
	s.log.Info("console signed in with the admin token")
	http.Redirect(w, r, s.basePath()+"/", http.StatusSeeOther)
}

func (s *Server) consoleLogout(_ context.Context, r *http.Request) (string, *oauth.Error) {
	if c, err := r.Cookie(consoleSessionCookie); err == nil {
		s.console.mu.Lock()
		delete(s.console.sessions, store.Hash(c.Value))
		s.console.mu.Unlock()
	}
	return "Signed out of the console.", nil
}
