package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Exchange is one HTTP request the suite made and what came back, masked.
type Exchange struct {
	Method          string            `json:"method"`
	URL             string            `json:"url"`
	RequestHeaders  map[string]string `json:"request_headers,omitempty"`
	RequestBody     string            `json:"request_body,omitempty"`
	Status          int               `json:"status,omitempty"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"`
	// Truncated says the body shown is the first MaxBody bytes of a longer
	// one.
	Truncated  bool    `json:"truncated,omitempty"`
	Error      string  `json:"error,omitempty"`
	Started    string  `json:"started"`
	DurationMS float64 `json:"duration_ms"`
	JWTs       []JWT   `json:"jwts,omitempty"`
}

// CodexRun is one run of the real codex binary, masked.
type CodexRun struct {
	Command    string  `json:"command"`
	ExitCode   int     `json:"exit_code"`
	DurationMS float64 `json:"duration_ms"`
	// Said is the line of codex's output that explains its outcome.
	Said       string `json:"said,omitempty"`
	Output     string `json:"output,omitempty"`
	AuthBefore string `json:"auth_json_before,omitempty"`
	AuthAfter  string `json:"auth_json_after,omitempty"`
}

// Record is the evidence of one requirement's spec.
type Record struct {
	Exchanges []Exchange `json:"exchanges,omitempty"`
	CodexRuns []CodexRun `json:"codex_runs,omitempty"`
	Notes     []string   `json:"notes,omitempty"`
}

// Empty reports whether nothing was recorded.
func (r *Record) Empty() bool {
	return r == nil || len(r.Exchanges) == 0 && len(r.CodexRuns) == 0 && len(r.Notes) == 0
}

// MaxBody bounds how much of each body is kept.
const MaxBody = 8 << 10

// maxExchanges bounds how many exchanges one spec keeps (a spec polling for
// a minute would otherwise keep hundreds).
const maxExchanges = 120

// raw is an exchange before masking: secrets are masked when the spec ends,
// when every secret it met is known.
type raw struct {
	method, url           string
	reqHeader, respHeader http.Header
	reqBody, respBody     []byte
	reqType, respType     string
	status                int
	err                   error
	started               time.Time
	duration              time.Duration
	truncReq, truncResp   bool
	codex                 *CodexRun
	authBefore, authAfter string
	note                  string
}

// Recorder collects the evidence of the spec that is running. Safe for
// concurrent use (specs fire concurrent requests).
type Recorder struct {
	Masker *Masker
	mu     sync.Mutex
	active bool
	items  []raw
	// dropped counts exchanges over maxExchanges in the current spec.
	dropped int
}

// NewRecorder returns a recorder with a fresh masker.
func NewRecorder() *Recorder { return &Recorder{Masker: NewMasker()} }

// Begin starts recording a new spec, dropping anything not taken.
func (r *Recorder) Begin() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active, r.items, r.dropped = true, nil, 0
}

// End stops recording and returns the spec's evidence, masked.
func (r *Recorder) End() *Record {
	r.mu.Lock()
	items, dropped := r.items, r.dropped
	r.active, r.items, r.dropped = false, nil, 0
	r.mu.Unlock()
	// Register every secret first, then mask: a secret met in a JSON field
	// of a later exchange is also masked where it appeared as text before.
	for _, it := range items {
		r.learn(it)
	}
	rec := &Record{}
	for _, it := range items {
		switch {
		case it.codex != nil:
			c := *it.codex
			c.Output = r.Masker.Text(c.Output)
			c.Said = r.Masker.Text(c.Said)
			c.Command = r.Masker.Text(c.Command)
			c.AuthBefore, _ = r.Masker.Body("application/json", it.authBefore)
			c.AuthAfter, _ = r.Masker.Body("application/json", it.authAfter)
			rec.CodexRuns = append(rec.CodexRuns, c)
		case it.note != "":
			rec.Notes = append(rec.Notes, r.Masker.Text(it.note))
		default:
			rec.Exchanges = append(rec.Exchanges, r.mask(it))
		}
	}
	if dropped > 0 {
		rec.Notes = append(rec.Notes, fmt.Sprintf("%d more exchanges not kept (the first %d are)", dropped, maxExchanges))
	}
	return rec
}

// learn registers the secrets of an exchange's bodies and headers.
func (r *Recorder) learn(it raw) {
	if it.codex != nil {
		r.Masker.Body("application/json", it.authBefore)
		r.Masker.Body("application/json", it.authAfter)
		return
	}
	r.Masker.Body(it.reqType, string(it.reqBody))
	r.Masker.Body(it.respType, string(it.respBody))
	for _, h := range []http.Header{it.reqHeader, it.respHeader} {
		for k, vs := range h {
			for _, v := range vs {
				if strings.EqualFold(k, "location") {
					r.Masker.URL(v) // a redirect carries codes in its query
				} else {
					r.Masker.Header(k, v)
				}
			}
		}
	}
	r.Masker.URL(it.url)
}

func (r *Recorder) mask(it raw) Exchange {
	ex := Exchange{Method: it.method, URL: r.Masker.URL(it.url), Status: it.status,
		Started: it.started.UTC().Format("15:04:05.000"), DurationMS: float64(it.duration.Microseconds()) / 1000,
		Truncated: it.truncReq || it.truncResp}
	if it.err != nil {
		ex.Error = r.Masker.Text(it.err.Error())
	}
	var jwts []JWT
	ex.RequestBody, jwts = r.Masker.Body(it.reqType, printable(it.reqBody, it.reqHeader))
	ex.JWTs = append(ex.JWTs, jwts...)
	ex.ResponseBody, jwts = r.Masker.Body(it.respType, printable(it.respBody, it.respHeader))
	ex.JWTs = append(ex.JWTs, jwts...)
	ex.RequestHeaders = r.headers(it.reqHeader)
	ex.ResponseHeaders = r.headers(it.respHeader)
	return ex
}

// headers keeps the headers that explain an exchange, masked.
func (r *Recorder) headers(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := map[string]string{}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch strings.ToLower(k) {
		case "date", "content-length", "x-content-type-options", "referrer-policy", "accept", "accept-encoding", "vary":
			continue
		}
		v := strings.Join(h[k], ", ")
		if strings.EqualFold(k, "location") {
			out[k] = r.Masker.URL(v)
		} else {
			out[k] = r.Masker.Header(k, v)
		}
	}
	return out
}

func (r *Recorder) add(it raw) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.active {
		return
	}
	if len(r.items) >= maxExchanges && it.codex == nil && it.note == "" {
		r.dropped++
		return
	}
	r.items = append(r.items, it)
}

// Note adds a remark to the running spec's evidence (masked at the end).
func (r *Recorder) Note(format string, args ...any) {
	r.add(raw{note: fmt.Sprintf(format, args...)})
}

// AddCodexRun records one run of the real codex with auth.json before and
// after it (masked at the end).
func (r *Recorder) AddCodexRun(run CodexRun, authBefore, authAfter string) {
	r.add(raw{codex: &run, authBefore: authBefore, authAfter: authAfter})
}

// Transport records every exchange that goes through base.
func (r *Recorder) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &recording{base: base, rec: r}
}

type recording struct {
	base http.RoundTripper
	rec  *Recorder
}

func (t *recording) RoundTrip(req *http.Request) (*http.Response, error) {
	it := raw{method: req.Method, url: req.URL.String(), reqHeader: req.Header.Clone(), reqType: req.Header.Get("Content-Type"), started: time.Now()}
	if req.Body != nil && req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			it.reqBody, it.truncReq = readBounded(b)
			b.Close()
		}
	}
	res, err := t.base.RoundTrip(req)
	it.duration = time.Since(it.started)
	if err != nil {
		it.err = err
		t.rec.add(it)
		return res, err
	}
	it.status, it.respHeader, it.respType = res.StatusCode, res.Header.Clone(), res.Header.Get("Content-Type")
	res.Body = &teeBody{ReadCloser: res.Body, done: func(b []byte, trunc bool) {
		it.respBody, it.truncResp = b, trunc
		it.duration = time.Since(it.started) // headers and body
		t.rec.add(it)
	}}
	return res, nil
}

func readBounded(rc io.Reader) ([]byte, bool) {
	b, _ := io.ReadAll(io.LimitReader(rc, MaxBody+1))
	if len(b) > MaxBody {
		return b[:MaxBody], true
	}
	return b, false
}

// teeBody keeps the first MaxBody bytes the client reads and reports them
// when the body is closed.
type teeBody struct {
	io.ReadCloser
	buf   bytes.Buffer
	trunc bool
	once  sync.Once
	done  func([]byte, bool)
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := MaxBody - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(n, room)])
		if n > room {
			b.trunc = true
		}
	} else if n > 0 {
		b.trunc = true
	}
	return n, err
}

func (b *teeBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.done(b.buf.Bytes(), b.trunc) })
	return err
}

// Text renders the record for plain-text reports (JUnit system-out).
func (r *Record) Text() string {
	if r.Empty() {
		return ""
	}
	var b strings.Builder
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for i, ex := range r.Exchanges {
		fmt.Fprintf(&b, "\n#%d %s %s %s → ", i+1, ex.Started, ex.Method, ex.URL)
		if ex.Error != "" {
			fmt.Fprintf(&b, "error: %s (%.1f ms)\n", ex.Error, ex.DurationMS)
		} else {
			fmt.Fprintf(&b, "%d (%.1f ms)\n", ex.Status, ex.DurationMS)
		}
		for k, v := range ex.RequestHeaders {
			fmt.Fprintf(&b, "  > %s: %s\n", k, v)
		}
		if ex.RequestBody != "" {
			fmt.Fprintf(&b, "  > %s\n", indent(ex.RequestBody, "  > "))
		}
		for k, v := range ex.ResponseHeaders {
			fmt.Fprintf(&b, "  < %s: %s\n", k, v)
		}
		if ex.ResponseBody != "" {
			fmt.Fprintf(&b, "  < %s\n", indent(ex.ResponseBody, "  < "))
		}
		for _, j := range ex.JWTs {
			h, _ := json.Marshal(j.Header)
			c, _ := json.Marshal(j.Claims)
			fmt.Fprintf(&b, "  jwt %s (%s): header %s claims %s %s\n", j.Fingerprint, j.Where, h, c, j.Error)
		}
	}
	for _, c := range r.CodexRuns {
		fmt.Fprintf(&b, "\n$ %s → exit %d (%.0f ms)\n  said: %s\n", c.Command, c.ExitCode, c.DurationMS, c.Said)
		if c.AuthBefore != "" || c.AuthAfter != "" {
			fmt.Fprintf(&b, "  auth.json before: %s\n  auth.json after: %s\n", oneLine(c.AuthBefore), oneLine(c.AuthAfter))
		}
	}
	return b.String()
}

func indent(s, prefix string) string { return strings.ReplaceAll(s, "\n", "\n"+prefix) }

func oneLine(s string) string {
	if s == "" {
		return "(none)"
	}
	return strings.Join(strings.Fields(s), " ")
}

// printable is a body as text a report can carry: a compressed or binary
// body is summarised, never written as raw bytes (YAML and XML refuse
// control characters, and nobody can read them).
func printable(b []byte, h http.Header) string {
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return fmt.Sprintf("(%d bytes, Content-Encoding %s: not shown)", len(b), ce)
	}
	bad := 0
	for _, r := range string(b) {
		if r == utf8.RuneError || r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			bad++
		}
	}
	if bad == 0 {
		return string(b)
	}
	if bad*10 > len(b) {
		return fmt.Sprintf("(%d bytes of binary data: not shown)", len(b))
	}
	return CleanText(string(b))
}

// CleanText makes text safe for every report format: valid UTF-8, and no
// control characters but newlines and tabs.
func CleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return '�'
		}
		return r
	}, strings.ToValidUTF8(s, "�"))
}
