package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The request timeline: the console's record of the last timelineSize
// requests the issuer answered, in a bounded ring, each with its method,
// path, flow, outcome, latency, client, user and family, and its request
// and response with every secret masked (console_mask.go) before it is
// stored. New entries are pushed to the console's event stream (SSE).

const (
	timelineSize = 500
	// captureLimit bounds the part of a response body the timeline reads.
	captureLimit = 32 << 10
)

// timelineEntry is one recorded exchange.
type timelineEntry struct {
	ID        uint64     `json:"id"`
	At        time.Time  `json:"at"`
	Method    string     `json:"method"`
	Path      string     `json:"path"`
	Flow      string     `json:"flow"`
	Status    int        `json:"status"`
	Outcome   string     `json:"outcome"`
	LatencyMS float64    `json:"latency_ms"`
	ClientID  string     `json:"client_id,omitempty"`
	UserAgent string     `json:"user_agent,omitempty"`
	User      string     `json:"user,omitempty"`
	Family    string     `json:"family,omitempty"`
	Request   capturedIO `json:"request"`
	Response  capturedIO `json:"response"`

	// Set while the request runs (recordingStore).
	rotation string
	login    string
}

// capturedIO is a request or response as the console shows it.
type capturedIO struct {
	Line    string      `json:"line"`
	Headers [][2]string `json:"headers,omitempty"`
	Body    string      `json:"body,omitempty"`
}

type timelineKey struct{}

// hub fans console events out to the event-stream subscribers.
type hub struct {
	mu   sync.Mutex
	subs map[chan consoleEvent]struct{}
}

// consoleEvent is one server-sent event.
type consoleEvent struct {
	Name string
	Data []byte
}

func (h *hub) subscribe() chan consoleEvent {
	ch := make(chan consoleEvent, 64)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan consoleEvent]struct{}{}
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) unsubscribe(ch chan consoleEvent) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

// publish sends ev to every subscriber that keeps up; a slow one misses it
// (its page reloads its state on the next event anyway).
func (h *hub) publish(ev consoleEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// closeAll ends every stream (server shutdown).
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		close(ch)
		delete(h.subs, ch)
	}
}

// timeline is the ring of recorded exchanges.
type timeline struct {
	mu      sync.Mutex
	ring    []*timelineEntry
	next    int
	seq     uint64
	publish func(consoleEvent)
}

func (t *timeline) newEntry() *timelineEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	return &timelineEntry{ID: t.seq}
}

func (t *timeline) add(e *timelineEntry) {
	t.mu.Lock()
	if len(t.ring) < timelineSize {
		t.ring = append(t.ring, e)
	} else {
		t.ring[t.next] = e
		t.next = (t.next + 1) % timelineSize
	}
	t.mu.Unlock()
	if t.publish != nil {
		if b, err := json.Marshal(e); err == nil {
			t.publish(consoleEvent{Name: "request", Data: b})
		}
	}
}

// entries returns the recorded exchanges, newest first.
func (t *timeline) entries() []timelineEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]timelineEntry, 0, len(t.ring))
	for i := len(t.ring) - 1; i >= 0; i-- {
		out = append(out, *t.ring[(t.next+i)%len(t.ring)])
	}
	return out
}

// notRecorded are paths the timeline leaves out: the console itself and
// the operational endpoints.
func notRecorded(rel string) bool {
	switch rel {
	case "/", "", "/metrics", "/healthz", "/readyz", "/favicon.ico":
		return true
	}
	return strings.HasPrefix(rel, "/console/")
}

// recordRequests is the timeline's middleware.
func (s *Server) recordRequests(next http.Handler) http.Handler {
	if s.console == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel := strings.TrimPrefix(r.URL.Path, s.basePath())
		if notRecorded(rel) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		e := s.console.timeline.newEntry()
		e.At, e.Method, e.Path = s.clock.Now(), r.Method, r.URL.Path
		e.UserAgent = r.UserAgent()
		reqBody, truncated := peekBody(r)
		fields := requestFields(r, reqBody)
		e.Flow = flowOf(rel, fields["grant_type"])
		e.ClientID = fields["client_id"]
		if e.ClientID == "" {
			e.ClientID = r.URL.Query().Get("client_id")
		}
		line := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			line += "?" + maskQuery(r.URL.Query())
		}
		e.Request = capturedIO{Line: line, Headers: maskHeaders(r.Header, shownRequestHeaders),
			Body: maskBody(r.Header.Get("Content-Type"), reqBody, truncated, nil)}

		cw := &captureWriter{statusRecorder: statusRecorder{ResponseWriter: w}}
		next.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), timelineKey{}, e)))

		if cw.status == 0 {
			cw.status = http.StatusOK
		}
		e.Status = cw.status
		e.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
		hdr := cw.Header()
		e.Response = capturedIO{Line: statusLine(cw.status), Headers: maskHeaders(hdr, shownResponseHeaders),
			Body: maskBody(hdr.Get("Content-Type"), cw.buf.Bytes(), cw.truncated, s.console.events.accessClaims)}
		e.Outcome = outcomeOf(cw.status, hdr.Get("Content-Type"), cw.buf.Bytes(), e.rotation)
		if rel == "/api/accounts/deviceauth/usercode" && cw.status == http.StatusOK {
			var resp struct {
				UserCode string `json:"user_code"`
			}
			if json.Unmarshal(cw.buf.Bytes(), &resp) == nil && resp.UserCode != "" {
				s.console.events.userCodeHint(resp.UserCode)
			}
		}
		s.console.timeline.add(e)
	})
}

func statusLine(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

// peekBody reads a request body (up to the issuer's body limit) for the
// timeline and puts it back for the handler, unchanged.
func peekBody(r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, false
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	truncated := len(buf) > maxBody
	rest := r.Body
	r.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(buf), rest), Closer: rest}
	if err != nil {
		return nil, true
	}
	if truncated {
		buf = buf[:maxBody]
	}
	return buf, truncated
}

type readCloser struct {
	io.Reader
	io.Closer
}

// requestFields reads the fields of a form or JSON body that name the
// flow and the client.
func requestFields(r *http.Request, body []byte) map[string]string {
	out := map[string]string{}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for _, k := range []string{"grant_type", "client_id"} {
				if v, ok := m[k].(string); ok {
					out[k] = v
				}
			}
		}
	case "application/x-www-form-urlencoded":
		if q, err := url.ParseQuery(string(body)); err == nil {
			out["grant_type"], out["client_id"] = q.Get("grant_type"), q.Get("client_id")
		}
	}
	return out
}

// flowOf names the protocol step a path (under the issuer base) serves.
func flowOf(rel, grantType string) string {
	switch {
	case rel == "/oauth/token":
		switch grantType {
		case GrantTokenExchange:
			return "token: token-exchange"
		case GrantJWTBearer:
			return "token: jwt-bearer"
		case "":
			return "token"
		}
		return "token: " + grantType
	case rel == "/oauth/authorize":
		return "browser: authorize"
	case rel == "/oauth/revoke":
		return "revoke"
	case rel == "/api/accounts/deviceauth/usercode":
		return "device: usercode"
	case rel == "/api/accounts/deviceauth/token":
		return "device: poll"
	case rel == deviceVerificationPath:
		return "device: verification page"
	case rel == deviceCallbackPath:
		return "device: callback"
	case rel == "/.well-known/openid-configuration":
		return "discovery"
	case strings.HasSuffix(rel, "/jwks") || strings.HasSuffix(rel, "/jwks.json"):
		return "jwks"
	case rel == "/login" || rel == "/logout":
		return "sign-in page"
	case rel == "/backend-api/wham/accounts/check":
		return "accounts check"
	case rel == "/api/accounts/v1/user-auth-credential/whoami":
		return "PAT: whoami"
	case strings.HasPrefix(rel, "/api/accounts/v1/agent/"):
		return "agent: task register"
	case rel == "/internal/codex-auth/validate":
		return "validate"
	case strings.HasPrefix(rel, "/__admin/"):
		return "admin: " + strings.TrimPrefix(rel, "/__admin/")
	}
	return strings.TrimPrefix(rel, "/")
}

// outcomeOf is what the issuer answered, in one word: the OAuth error
// code, the rotation outcome of a refresh, "ok" or the status.
func outcomeOf(status int, contentType string, body []byte, rotation string) string {
	if status < 400 && rotation != "" {
		return rotation
	}
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/json" && status >= 400 {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			switch e := m["error"].(type) {
			case string:
				return e
			case map[string]any:
				if c, ok := e["code"].(string); ok {
					return c
				}
			}
			if c, ok := m["code"].(string); ok {
				return c
			}
		}
	}
	switch {
	case status < 300:
		return "ok"
	case status < 400:
		return "redirect"
	}
	return "http " + strconv.Itoa(status)
}

// captureWriter passes a response through, noting its status (as the
// metrics' statusRecorder does), and keeps the start of its body.
type captureWriter struct {
	statusRecorder
	buf       bytes.Buffer
	truncated bool
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if room := captureLimit - c.buf.Len(); room > 0 {
		if len(b) > room {
			c.buf.Write(b[:room])
			c.truncated = true
		} else {
			c.buf.Write(b)
		}
	} else if len(b) > 0 {
		c.truncated = true
	}
	return c.statusRecorder.Write(b)
}
