package issuer

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// The developer console at "/" (under the issuer base): the issuer's
// settings, clock, faults, users, keys, device codes, token families with
// their rotation chains, access tokens, agent identities, personal access
// tokens, and the request timeline, live over server-sent events.
//
// Who may use it:
//   - with an admin token configured, whoever presents that token once (a
//     form; the console then keeps a session cookie, HttpOnly and
//     SameSite=Strict);
//   - without one, on an issuer that listens on loopback only
//     (Config.LoopbackOnly), any client on this machine: mock mode, which
//     the console says;
//   - otherwise nobody: the console does not exist (404).
//
// Every state-changing form carries the double-submit CSRF token
// (web.go) and is refused from another origin. The console's actions are
// the admin API's handlers, called in-process, so they validate alike.

type consoleMode int

const (
	consoleOpen  consoleMode = iota + 1 // loopback, no admin token
	consoleToken                        // admin token required
)

const consoleSessionCookie = "codexauth_console"

// console is the console's state.
type console struct {
	mode     consoleMode
	timeline *timeline
	events   *eventLog
	hub      hub
	started  time.Time

	mu       sync.Mutex // serialises fault toggles
	sessions map[string]time.Time
	guesses  guessLimiter
}

// setupConsole creates the console when it may exist and returns the store
// wrapped by its event log (console_events.go); otherwise st unchanged.
func (s *Server) setupConsole(st store.Store) store.Store {
	var mode consoleMode
	switch {
	case s.cfg.NoConsole:
		return st
	case s.cfg.AdminToken != "":
		mode = consoleToken
	case s.cfg.LoopbackOnly:
		mode = consoleOpen
	default:
		return st
	}
	c := &console{mode: mode, sessions: map[string]time.Time{}, started: time.Now()}
	c.timeline = &timeline{publish: c.hub.publish}
	c.events = newEventLog(s.clock.Now(), func(what string) {
		c.hub.publish(consoleEvent{Name: "state", Data: []byte(`{"changed":"` + what + `"}`)})
	})
	s.console = c
	return &recordingStore{Store: st, log: c.events}
}

// CloseStreams ends the console's event streams, so that a graceful
// shutdown does not wait for browsers that keep them open
// (http.Server.RegisterOnShutdown).
func (s *Server) CloseStreams() {
	if s.console != nil {
		s.console.hub.closeAll()
	}
}

func (s *Server) mountConsole(r chi.Router) {
	if s.console == nil {
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(s.consoleGate)
		r.Get("/", s.consolePage)
		r.Get("/console/events", s.consoleStream)
		r.Post("/console/login", s.consoleLogin)
		post := func(path, section string, act consoleAction) { r.Post(path, s.consoleForm(section, act)) }
		post("/console/logout", "", s.consoleLogout)
		post("/console/clock/advance", "settings", s.consoleClockAdvance)
		post("/console/clock/reset", "settings", s.consoleClockReset)
		post("/console/settings", "settings", s.consoleSettings)
		post("/console/outage", "settings", s.consoleOutage)
		post("/console/faults", "faults", s.consoleFault)
		post("/console/users", "users", s.consoleUser)
		post("/console/keys/rotate", "keys", s.consoleRotateKeys)
		post("/console/device/approve", "devices", s.consoleDevice(true))
		post("/console/device/deny", "devices", s.consoleDevice(false))
		post("/console/families/revoke", "families", s.consoleRevokeFamily)
		post("/console/agents/revoke", "agents", s.consoleRevokeAgent)
		post("/console/pats/revoke", "pats", s.consoleRevokePAT)
	})
}

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

func isFetch(r *http.Request) bool { return r.Header.Get("X-Console-Fetch") != "" }

// consoleAction performs one console action and says what it did.
type consoleAction func(ctx context.Context, r *http.Request) (string, *oauth.Error)

// consoleForm wraps an action: form parsing, CSRF, the acting marker, and
// the answer — JSON to the page's script, a redirect back to the console
// (with the outcome) to a browser without one.
func (s *Server) consoleForm(section string, act consoleAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(w, r); err != nil {
			s.consoleAnswer(w, r, section, "", oauth.InvalidRequest("the form could not be read"))
			return
		}
		if err := s.consoleCSRF(r); err != nil {
			s.log.Warn("console form refused", "path", r.URL.Path, "reason", err)
			s.consoleAnswer(w, r, section, "", oauth.New(http.StatusForbidden, oauth.CodeAccessDenied,
				"request refused: %v. Reload the console and try again.", err))
			return
		}
		ctx := context.WithValue(r.Context(), consoleActorKey{}, true)
		note, e := act(ctx, r.WithContext(ctx))
		if e == nil {
			s.log.Info("console action", "path", strings.TrimPrefix(r.URL.Path, s.basePath()), "result", note)
			s.console.hub.publish(consoleEvent{Name: "state", Data: []byte(`{"changed":"` + section + `"}`)})
		}
		s.consoleAnswer(w, r, section, note, e)
	}
}

func (s *Server) consoleAnswer(w http.ResponseWriter, r *http.Request, section, note string, e *oauth.Error) {
	if isFetch(r) {
		if e != nil {
			writeJSON(w, e.Status, map[string]any{"ok": false, "message": e.Description})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": note})
		return
	}
	if e != nil && e.Status == http.StatusForbidden {
		s.renderMessage(w, r, http.StatusForbidden, "Request refused", e.Description, "")
		return
	}
	q := url.Values{}
	if e != nil {
		q.Set("error", e.Description)
	} else if note != "" {
		q.Set("note", note)
	}
	loc := s.basePath() + "/"
	if len(q) > 0 {
		loc += "?" + q.Encode()
	}
	if section != "" {
		loc += "#" + section
	}
	http.Redirect(w, r, loc, http.StatusSeeOther)
}

// consoleLogin trades the admin token for a console session.
func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	if s.console.mode != consoleToken {
		http.Redirect(w, r, s.basePath()+"/", http.StatusSeeOther)
		return
	}
	if err := parseForm(w, r); err != nil {
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

// viaAdmin runs an admin API handler in-process with a JSON body and
// returns its JSON answer, or its error.
func (s *Server) viaAdmin(ctx context.Context, h http.HandlerFunc, body any) (map[string]any, *oauth.Error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, oauth.InvalidRequest("%v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.basePath()+"/__admin", bytes.NewReader(b))
	if err != nil {
		return nil, oauth.InvalidRequest("%v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := &bufferedResponse{header: http.Header{}}
	h(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.buf.Bytes(), &out)
	if rec.status >= 400 {
		desc, _ := out["error_description"].(string)
		code, _ := out["error"].(string)
		if desc == "" {
			desc = http.StatusText(rec.status)
		}
		return nil, oauth.New(rec.status, code, "%s", desc)
	}
	return out, nil
}

func (s *Server) consoleClockAdvance(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	by := strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("by")), "+")
	if by == "" {
		return "", oauth.InvalidRequest("say how far to move the clock, e.g. 5m, 1h or 24h")
	}
	out, e := s.viaAdmin(ctx, s.adminClockAdvance, map[string]string{"duration": by})
	if e != nil {
		return "", e
	}
	return fmt.Sprintf("Clock advanced by %s: the issuer's time is now %v.", by, out["now"]), nil
}

func (s *Server) consoleClockReset(ctx context.Context, _ *http.Request) (string, *oauth.Error) {
	if _, e := s.viaAdmin(ctx, s.adminClockReset, struct{}{}); e != nil {
		return "", e
	}
	return "Clock reset to the wall clock.", nil
}

func (s *Server) consoleSettings(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	in := map[string]any{}
	for _, k := range []string{"access_ttl_seconds", "reuse_grace_seconds"} {
		if v := strings.TrimSpace(r.PostFormValue(k)); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return "", oauth.InvalidRequest("%s: %q is not a number of seconds", k, v)
			}
			in[k] = f
		}
	}
	switch r.PostFormValue("auto_approve") {
	case "on":
		in["auto_approve"] = true
	case "off":
		in["auto_approve"] = false
	}
	out, e := s.viaAdmin(ctx, s.adminSettings, in)
	if e != nil {
		return "", e
	}
	return fmt.Sprintf("Settings applied: access tokens live %vs, reuse grace %vs.", out["access_ttl_seconds"], out["reuse_grace_seconds"]), nil
}

func (s *Server) consoleOutage(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	on := r.PostFormValue("enabled") == "on"
	if _, e := s.viaAdmin(ctx, s.adminOutage, map[string]bool{"enabled": on}); e != nil {
		return "", e
	}
	if on {
		return "Simulated store outage ON: every store call fails, the issuer answers 503 temporarily_unavailable.", nil
	}
	return "Simulated store outage off.", nil
}

func (s *Server) consoleFault(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	name, on := r.PostFormValue("name"), r.PostFormValue("on") == "1"
	s.console.mu.Lock()
	defer s.console.mu.Unlock()
	enabled := slices.DeleteFunc(s.faults.Enabled(), func(n string) bool { return n == name })
	if on {
		enabled = append(enabled, name)
	}
	if _, e := s.viaAdmin(ctx, s.adminSetFaults, map[string][]string{"enabled": enabled}); e != nil {
		return "", e
	}
	if on {
		return "Fault " + name + " is ON.", nil
	}
	return "Fault " + name + " is off.", nil
}

// consoleUser adds or replaces a user from its fixture (JSON). A user who
// has a password keeps it unless the fixture sets a new one.
func (s *Server) consoleUser(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	dec := json.NewDecoder(strings.NewReader(r.PostFormValue("fixture")))
	dec.DisallowUnknownFields()
	var f UserFixture
	if err := dec.Decode(&f); err != nil {
		return "", oauth.InvalidRequest("the user must be a JSON object of fixture fields (id, email, plan_type, …): %v", err)
	}
	u, err := f.ToUser()
	if err != nil {
		return "", oauth.InvalidRequest("%v", err)
	}
	old, err := s.store.GetUser(ctx, u.ID)
	switch {
	case err == nil:
		if f.Password == "" {
			u.PasswordHash = old.PasswordHash
		}
	case !errors.Is(err, store.ErrNotFound):
		return "", oauth.Unavailable(fmt.Errorf("get user: %w", err))
	}
	if err := s.store.PutUser(ctx, u); err != nil {
		return "", oauth.Unavailable(fmt.Errorf("put user: %w", err))
	}
	if old.ID == "" {
		return "User " + u.ID + " added.", nil
	}
	return "User " + u.ID + " saved: new tokens carry the new claims.", nil
}

func (s *Server) consoleRotateKeys(ctx context.Context, _ *http.Request) (string, *oauth.Error) {
	out, e := s.viaAdmin(ctx, s.adminRotateKeys, struct{}{})
	if e != nil {
		return "", e
	}
	return fmt.Sprintf("Signing key rotated: new tokens are signed with %v; the old key stays in the JWKS until its tokens expire.", out["kid"]), nil
}

func (s *Server) consoleDevice(approve bool) consoleAction {
	return func(ctx context.Context, r *http.Request) (string, *oauth.Error) {
		d, ok := s.console.events.deviceByID(r.PostFormValue("device"))
		if !ok {
			return "", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no device code %q in this process's records", r.PostFormValue("device"))
		}
		user := r.PostFormValue("user")
		if approve {
			if _, err := s.store.GetUser(ctx, user); err != nil {
				return "", oauth.InvalidRequest("no user %q", user)
			}
		}
		_, err := s.store.DecideDeviceCode(ctx, d.userCodeHash, approve, user, s.clock.Now())
		switch {
		case errors.Is(err, store.ErrNotFound):
			return "", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "the device code is gone")
		case errors.Is(err, store.ErrExpired):
			return "", oauth.New(http.StatusConflict, oauth.CodeExpiredToken, "the device code has expired")
		case errors.Is(err, store.ErrConflict):
			return "", oauth.New(http.StatusConflict, "already_decided", "the device code was already decided")
		case err != nil:
			return "", oauth.Unavailable(fmt.Errorf("decide device code: %w", err))
		}
		if approve {
			return "Device code " + d.Hint + " approved as " + user + ": the polling client gets its tokens at its next poll.", nil
		}
		return "Device code " + d.Hint + " denied: the polling client is told at its next poll.", nil
	}
}

func (s *Server) consoleRevokeFamily(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	id := r.PostFormValue("family")
	err := s.store.RevokeFamily(ctx, id, "console", s.clock.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no family %q", id)
	case err != nil:
		return "", oauth.Unavailable(fmt.Errorf("revoke family: %w", err))
	}
	return "Family " + id + " revoked: its refresh tokens are refused (refresh_token_invalidated) and its access tokens no longer validate.", nil
}

func (s *Server) consoleRevokeAgent(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	id := r.PostFormValue("runtime_id")
	err := s.store.RevokeAgentIdentity(ctx, id, s.clock.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no agent identity %q", id)
	case err != nil:
		return "", oauth.Unavailable(fmt.Errorf("revoke agent identity: %w", err))
	}
	return "Agent identity " + id + " revoked.", nil
}

func (s *Server) consoleRevokePAT(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	p, ok := s.console.events.patByID(r.PostFormValue("pat"))
	if !ok {
		return "", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no personal access token %q in this process's records", r.PostFormValue("pat"))
	}
	if err := s.store.RevokePAT(ctx, p.hash, s.clock.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "the token is gone")
		}
		return "", oauth.Unavailable(fmt.Errorf("revoke personal access token: %w", err))
	}
	return "Personal access token " + p.ID + " of " + p.UserID + " revoked.", nil
}

// consoleStream is the console's event stream (server-sent events, HTML
// Living Standard §9.2): "request" for every recorded exchange (masked, as
// the timeline shows it), "state" when something the console shows
// changed. Comments keep idle connections open.
func (s *Server) consoleStream(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	ch := s.console.hub.subscribe()
	defer s.console.hub.unsubscribe(ch)
	send := func(chunk string) error {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second)) // beyond the server's WriteTimeout, one write at a time
		if _, err := io.WriteString(w, chunk); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send(fmt.Sprintf("retry: 2000\nevent: hello\ndata: {\"mode\":%q}\n\n", s.consoleModeName())); err != nil {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if err := send("event: " + ev.Name + "\ndata: " + string(ev.Data) + "\n\n"); err != nil {
				return
			}
		case <-ping.C:
			if err := send(": keep-alive\n\n"); err != nil {
				return
			}
		}
	}
}

func (s *Server) consoleModeName() string {
	if s.console.mode == consoleOpen {
		return "open"
	}
	return "token"
}
