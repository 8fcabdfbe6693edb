package issuer

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// handleDevicePage is the verification page codex prints
// (ISSUER/codex/device, contract §4.1): enter the code, see which client
// asks, approve or deny. Every state change is a CSRF-checked POST.
func (s *Server) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	user, ok := s.sessionUser(r)
	if !ok {
		if r.Method == http.MethodPost {
			s.renderMessage(w, r, http.StatusUnauthorized, "Signed out", "Your session ended. Open the link again to sign in.", "")
			return
		}
		s.loginRedirect(w, r)
		return
	}
	p := page{Title: "Connect a device", User: user, CSRF: s.csrfToken(w, r)}
	code := r.URL.Query().Get("user_code")
	action := "lookup"
	if r.Method == http.MethodPost {
		if !s.readPageForm(w, r, "device") {
			return
		}
		code, action = r.PostFormValue("user_code"), r.PostFormValue("action")
	}
	if code == "" {
		s.render(w, http.StatusOK, "device-enter", p)
		return
	}
	p.UserCode = code
	now := s.clock.Now()
	// User codes are short: cap wrong guesses per signed-in user (RFC 8628 §5.1).
	if !s.guesses.allow(user, now) {
		p.Error = "Too many wrong codes. Wait a few minutes, then try again."
		s.render(w, http.StatusTooManyRequests, "device-enter", p)
		return
	}
	d, err := s.store.GetDeviceCodeByUserCode(r.Context(), userCodeHash(code))
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.guesses.fail(user, now)
		p.Error = "That code is not valid. Check the code in your terminal and try again."
		s.render(w, http.StatusNotFound, "device-enter", p)
		return
	case err != nil:
		s.renderMessage(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "The issuer cannot reach its store. Try again shortly.", "")
		return
	case !now.Before(d.ExpiresAt):
		p.Error = "That code has expired. Start the login again in your terminal."
		s.render(w, http.StatusGone, "device-enter", p)
		return
	case d.Status != store.DevicePending:
		p.Error = "That code was already used."
		s.render(w, http.StatusConflict, "device-enter", p)
		return
	}
	switch action {
	case "approve", "deny":
		if r.Method != http.MethodPost {
			break
		}
		_, err := s.store.DecideDeviceCode(r.Context(), d.UserCodeHash, action == "approve", user, now)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExpired) {
			p.Error = "That code was already used or has expired."
			s.render(w, http.StatusConflict, "device-enter", p)
			return
		} else if err != nil {
			s.renderMessage(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "The issuer cannot reach its store. Try again shortly.", "")
			return
		}
		s.log.Info("device code decided", "user", user, "client", d.ClientID, "approved", action == "approve")
		if action == "approve" {
			s.renderMessage(w, r, http.StatusOK, "Device connected", "", "You approved the sign-in. Return to your terminal: codex finishes by itself.")
		} else {
			s.renderMessage(w, r, http.StatusOK, "Sign-in denied", "", "You denied the sign-in. codex will report that the login was refused.")
		}
		return
	}
	p.Client = d.ClientID
	p.Expires = d.ExpiresAt.Sub(now).Round(time.Second).String()
	s.render(w, http.StatusOK, "device-confirm", p)
}

// handleDeviceCallback is the device flow's registered redirect target
// (contract §4.3). codex never opens it; a person who does gets a hint.
func (s *Server) handleDeviceCallback(w http.ResponseWriter, r *http.Request) {
	s.renderMessage(w, r, http.StatusOK, "Device sign-in", "", "This address only identifies device logins. Return to your terminal.")
}

// guessLimiter counts wrong user codes per user in a sliding window.
type guessLimiter struct {
	mu    sync.Mutex
	fails map[string][]time.Time
}

const (
	maxWrongCodes    = 10
	wrongCodesWindow = 10 * time.Minute
)

func (g *guessLimiter) recent(user string, now time.Time) []time.Time {
	var kept []time.Time
	for _, t := range g.fails[user] {
		if now.Sub(t) < wrongCodesWindow {
			kept = append(kept, t)
		}
	}
	return kept
}

func (g *guessLimiter) allow(user string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.recent(user, now)) < maxWrongCodes
}

func (g *guessLimiter) fail(user string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fails == nil {
		g.fails = map[string][]time.Time{}
	}
	g.fails[user] = append(g.recent(user, now), now)
}
