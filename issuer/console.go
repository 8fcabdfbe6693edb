package issuer

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

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
// wrapped by its event log (recordingStore); otherwise st unchanged.
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
