package issuer

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

//go:embed web/*.html
var webFS embed.FS

var pages = template.Must(template.ParseFS(webFS, "web/*.html"))

const (
	sessionCookie = "codexauth_session"
	csrfCookie    = "codexauth_csrf"
)

// page is what every template sees.
type page struct {
	Title, Base, CSRF, User, Error, Message, Detail string
	Client, UserCode, ReturnTo, Username, Expires   string
	Users                                           []string
}

func (s *Server) basePath() string { return strings.TrimRight(s.base.Path, "/") }

func (s *Server) cookiePath() string {
	if p := s.basePath(); p != "" {
		return p
	}
	return "/"
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	p.Base = s.basePath()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// No scripts on these pages, and nobody may frame them (clickjacking
	// an approval button is the classic device-flow attack). Browsers apply
	// form-action to every redirect after a submission, and the login form
	// ends, through /oauth/authorize, at a client's redirect URI: those
	// origins must be allowed there.
	formAction := "'self'"
	if name == "login" {
		formAction += s.redirectOrigins()
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction+"; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
	}
}

func (s *Server) renderMessage(w http.ResponseWriter, r *http.Request, status int, title, errMsg, msg string) {
	p := page{Title: title, Error: errMsg, Message: msg}
	if u, ok := s.sessionUser(r); ok {
		p.User = u
	}
	s.render(w, status, "message", p)
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: s.cookiePath(), MaxAge: maxAge, HttpOnly: true,
		Secure: s.base.Scheme == "https", SameSite: sameSite})
}

// csrfToken returns the double-submit token of this browser, setting the
// cookie when there is none (OWASP double-submit cookie pattern; the cookie
// is SameSite=Strict and HttpOnly, the form echoes it).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := random(32)
	s.setCookie(w, csrfCookie, tok, 0, http.SameSiteStrictMode)
	return tok
}

// checkCSRF verifies a form post: the field equals the cookie
// (constant-time) and, when the browser says where it comes from, the
// origin is ours.
func (s *Server) checkCSRF(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != s.base.Scheme+"://"+s.base.Host {
		return fmt.Errorf("cross-origin form post from %s", o)
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return errors.New("missing CSRF cookie")
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		return errors.New("CSRF token mismatch")
	}
	return nil
}

// errAnswered: the request was already answered (a form body over the
// limit got its 413); the caller writes nothing more.
var errAnswered = errors.New("answered")

// parseForm reads a form post with the body limit (limitBodies caps the
// body at maxBody). A body over it is answered 413 here, as on every other
// route, and parseForm returns errAnswered.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	err := r.ParseForm()
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		oauth.Write(w, tooLarge())
		return errAnswered
	}
	return err
}

func (s *Server) sessionUser(r *http.Request) (string, bool) {
	u, _, ok := s.signedIn(r)
	return u, ok
}

// safeReturn accepts only a path under this issuer (no open redirects).
func (s *Server) safeReturn(rt string) string {
	u, err := url.Parse(rt)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, s.basePath()+"/") || strings.HasPrefix(rt, "//") || strings.Contains(rt, "\\") {
		return ""
	}
	return u.RequestURI()
}

func (s *Server) loginRedirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, s.basePath()+"/login?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Sign in", CSRF: s.csrfToken(w, r), ReturnTo: s.safeReturn(r.URL.Query().Get("return_to"))}
	if p.ReturnTo != "" {
		if ru, err := url.Parse(p.ReturnTo); err == nil {
			p.Client = ru.Query().Get("client_id")
		}
	}
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		s.renderMessage(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "The issuer cannot reach its store. Try again shortly.", "")
		return
	}
	for _, u := range users {
		if !u.Disabled && u.PasswordHash == "" {
			p.Users = append(p.Users, u.ID)
		}
	}
	if u, ok := s.sessionUser(r); ok {
		p.User = u
	}
	s.render(w, http.StatusOK, "login", p)
}

// readPageForm reads a page's form post and checks its CSRF token; when
// either fails it renders the refusal and reports false. form names the
// page in the log.
func (s *Server) readPageForm(w http.ResponseWriter, r *http.Request, form string) bool {
	if err := parseForm(w, r); errors.Is(err, errAnswered) {
		return false
	} else if err != nil {
		s.renderMessage(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.", "")
		return false
	}
	if err := s.checkCSRF(r); err != nil {
		s.log.Warn(form+" form rejected", "reason", err)
		s.renderMessage(w, r, http.StatusForbidden, "Request refused", "This form expired or came from another site. Go back, reload the page and try again.", "")
		return false
	}
	return true
}

func (s *Server) handleLoginSubmit(w http.ResponseWriter, r *http.Request) {
	if !s.readPageForm(w, r, "login") {
		return
	}
	returnTo := s.safeReturn(r.PostFormValue("return_to"))
	userID := strings.TrimSpace(r.PostFormValue("pick"))
	if userID == "" {
		userID = strings.TrimSpace(r.PostFormValue("username"))
	}
	fail := func(msg string) {
		p := page{Title: "Sign in", CSRF: s.csrfToken(w, r), ReturnTo: returnTo, Error: msg, Username: userID}
		if users, err := s.store.ListUsers(r.Context()); err == nil {
			for _, u := range users {
				if !u.Disabled && u.PasswordHash == "" {
					p.Users = append(p.Users, u.ID)
				}
			}
		}
		s.render(w, http.StatusUnauthorized, "login", p)
	}
	if userID == "" {
		fail("Choose or type a user.")
		return
	}
	u, err := s.store.GetUser(r.Context(), userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		fail("No such user.")
		return
	} else if err != nil {
		s.renderMessage(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "The issuer cannot reach its store. Try again shortly.", "")
		return
	}
	if u.PasswordHash != "" && !CheckPassword(u.PasswordHash, r.PostFormValue("password")) {
		fail("Wrong password.")
		return
	}
	sid := random(32)
	now := s.clock.Now()
	if err := s.store.CreateSession(r.Context(), store.Session{IDHash: store.Hash(sid), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}); err != nil {
		s.renderMessage(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "The issuer cannot reach its store. Try again shortly.", "")
		return
	}
	s.setCookie(w, sessionCookie, sid, int(s.cfg.SessionTTL.Seconds()), http.SameSiteLaxMode)
	s.log.Info("user signed in", "user", u.ID)
	if returnTo == "" {
		returnTo = s.basePath() + deviceVerificationPath
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

func (s *Server) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Sign out", CSRF: s.csrfToken(w, r)}
	p.User, _ = s.sessionUser(r)
	s.render(w, http.StatusOK, "logout", p)
}

func (s *Server) handleLogoutSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); errors.Is(err, errAnswered) {
		return
	} else if err != nil || s.checkCSRF(r) != nil {
		s.renderMessage(w, r, http.StatusForbidden, "Request refused", "This form expired or came from another site.", "")
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		_ = s.store.DeleteSession(r.Context(), store.Hash(c.Value))
	}
	s.setCookie(w, sessionCookie, "", -1, http.SameSiteLaxMode)
	s.render(w, http.StatusOK, "message", page{Title: "Signed out", Message: "You are signed out of this issuer."})
}

// HashPassword hashes a fixture password (PBKDF2-SHA256, 210k rounds).
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	const iter = 210_000
	dk, err := pbkdf2.Key(sha256.New, pw, salt, iter, 32)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iter, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(dk)), nil
}

// CheckPassword compares pw with a HashPassword result in constant time.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// redirectOrigins lists the origins of every registered redirect URI, for
// the login page's form-action directive.
func (s *Server) redirectOrigins() string {
	seen := map[string]bool{}
	var b strings.Builder
	for _, r := range append(append([]string{}, CodexRedirectURIs...), s.cfg.RedirectURIs...) {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			continue
		}
		o := u.Scheme + "://" + u.Host
		if !seen[o] {
			seen[o] = true
			b.WriteString(" " + o)
		}
	}
	return b.String()
}
