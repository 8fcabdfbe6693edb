// Package capture records what a real codex release sends to an issuer —
// method, path, the headers that matter and the body's shape, secrets
// masked — in the format of fixtures/golden/wire-codex-0.169.0.txt, and
// compares two releases' captures as protocol drift (new or removed
// endpoints and fields, changed encodings and headers).
//
// The recorder is plain net/http middleware: `codexauth capture` wraps the
// reference issuer's handler with it (the harness never imports the
// issuer), and the codex driver's guard proxy marks the requests codex sent
// to auth.openai.com so they are told apart from those sent to the issuer.
package capture

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// InterceptedHeader is the request header the guard proxy adds (see
// codexcli.Guard.MarkIntercepted) with the host codex addressed; the
// recorder removes it before the issuer sees the request.
const InterceptedHeader = "Codexauth-Intercepted-Host"

// Exchange is one request codex sent and the issuer's answer, masked.
type Exchange struct {
	Section string
	Method  string
	// Target is the request target: path and masked query.
	Target string
	// Headers are lower-case "name: value" pairs, sorted by name ("host"
	// first), values masked; content-length is left out (masking changes it).
	Headers []Header
	Body    string
	Status  int
	// Response is the issuer's answer, masked (it is the issuer's, not
	// codex's: drift ignores it).
	Response string
	// Note marks what codex did not send itself, e.g. the authorize URL
	// it opened in the browser.
	Note string
}

// Header is one request header.
type Header struct{ Name, Value string }

// Path is Target without the query.
func (e Exchange) Path() string {
	p, _, _ := strings.Cut(e.Target, "?")
	return p
}

// Header returns a header's value ("" when absent).
func (e Exchange) Header(name string) string {
	for _, h := range e.Headers {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// Section is one flow of a capture with what the guard refused during it.
type Section struct {
	Name      string
	Exchanges []Exchange
	// Refused are destinations outside the issuer codex tried to reach
	// (host:port), refused by the guard proxy.
	Refused []string
	// Failed says why the flow did not complete with this codex ("" when
	// it did).
	Failed string
}

// Capture is one codex release's capture.
type Capture struct {
	// Version is the codex version that was run.
	Version  string
	Sections []Section
}

// Section returns the named section (nil when absent).
func (c *Capture) Section(name string) *Section {
	for i := range c.Sections {
		if c.Sections[i].Name == name {
			return &c.Sections[i]
		}
	}
	return nil
}

// skippedHeaders are never recorded: hop-by-hop, or rewritten by masking.
var skippedHeaders = map[string]bool{"content-length": true, "connection": true, strings.ToLower(InterceptedHeader): true}

// Recorder is middleware that records the requests of the current section.
type Recorder struct {
	mu      sync.Mutex
	section string
	mask    masker
	got     []Exchange
	// Skip reports requests that are not codex's (the admin API, the
	// approver's pages); they are served but not recorded.
	Skip func(r *http.Request) bool
}

// NewRecorder records nothing until Begin.
func NewRecorder() *Recorder {
	return &Recorder{Skip: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/__admin") }}
}

// Wrap returns next with recording in front. issuerURL is the issuer's
// public URL, whose host:port the capture writes as IssuerHost.
func (rec *Recorder) Wrap(next http.Handler, issuerURL string) http.Handler {
	if u, err := url.Parse(issuerURL); err == nil {
		rec.mask.issuerHostPort = u.Host
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		via := r.Header.Get(InterceptedHeader)
		r.Header.Del(InterceptedHeader)
		rec.mu.Lock()
		section := rec.section
		rec.mu.Unlock()
		if section == "" || (rec.Skip != nil && rec.Skip(r)) {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rw := &responseRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rw, r)
		e := rec.exchange(r, via, string(body))
		e.Section, e.Status = section, rw.status
		e.Response = rec.mask.body(rw.Header().Get("Content-Type"), rw.body.String())
		rec.mu.Lock()
		rec.got = append(rec.got, e)
		rec.mu.Unlock()
	})
}

func (rec *Recorder) exchange(r *http.Request, via, body string) Exchange {
	host := rec.mask.host(r.Host)
	if via != "" {
		host = via
	}
	target := maskPath(r.URL.EscapedPath())
	if r.URL.RawQuery != "" {
		target += "?" + maskForm(rec.mask.host(r.URL.RawQuery))
	}
	e := Exchange{Method: r.Method, Target: target, Headers: []Header{{"host", host}}}
	var names []string
	for name := range r.Header {
		if n := strings.ToLower(name); !skippedHeaders[n] && n != "host" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		e.Headers = append(e.Headers, Header{n, rec.mask.headerValue(n, strings.Join(r.Header.Values(n), ", "))})
	}
	e.Body = rec.mask.body(r.Header.Get("Content-Type"), body)
	return e
}

// Begin starts recording a section (ending the previous one).
func (rec *Recorder) Begin(section string) {
	rec.mu.Lock()
	rec.section = section
	rec.mu.Unlock()
}

// End stops recording.
func (rec *Recorder) End() { rec.Begin("") }

// Note records something codex did not send itself (such as the URL it
// opened in the browser) in the current section.
func (rec *Recorder) Note(method, rawURL, note string) {
	u, err := url.Parse(rec.mask.host(rawURL))
	if err != nil {
		return
	}
	target := maskPath(u.EscapedPath())
	if u.RawQuery != "" {
		target += "?" + maskForm(u.RawQuery)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.section == "" {
		return
	}
	rec.got = append(rec.got, Exchange{Section: rec.section, Method: method, Target: target,
		Headers: []Header{{"host", rec.mask.host(u.Host)}}, Note: note})
}

// Take returns the exchanges recorded so far and forgets them.
func (rec *Recorder) Take() []Exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.got
	rec.got = nil
	return out
}

type responseRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *responseRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *responseRecorder) Write(b []byte) (int, error) {
	if r.body.Len() < 64<<10 {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

func (r *responseRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
