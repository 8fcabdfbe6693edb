// Package evidence records what the conformance suite did to reach each
// verdict — the HTTP exchanges with the target, the real codex's runs — and
// masks every secret in it, so that a report can be attached to a ticket and
// shared with a deployment's owners.
//
// A secret is never written: it is replaced by a stable fingerprint
// (‹refresh_token·3f2a9c›: the kind and the first hex digits of its SHA-256),
// so that one token can still be followed across exchanges. JWTs are shown
// decoded — header and claims, with secret claims masked — and their
// signature elided.
package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// secretFields are the names under which secrets travel, in JSON bodies,
// forms, query strings and JWT claims (lower case).
var secretFields = map[string]bool{
	"refresh_token": true, "access_token": true, "id_token": true, "code": true, "authorization_code": true,
	"code_verifier": true, "device_auth_id": true, "user_code": true, "usercode": true, "token": true,
	"assertion": true, "subject_token": true, "client_secret": true, "password": true, "jwt": true,
	"agent_private_key": true, "openai_api_key": true, "api_key": true, "admin_token": true, "secret": true,
	"personal_access_token": true, "csrf": true, "csrf_token": true, "session": true, "device_code": true,
}

// secretHeaders are headers whose values are secrets (lower case).
var secretHeaders = map[string]bool{
	"authorization": true, "x-internal-secret": true, "cookie": true, "set-cookie": true, "proxy-authorization": true,
}

// jwtPattern finds compact JWS anywhere in text: three base64url segments,
// the first one a JSON object.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}={0,2}\.[A-Za-z0-9_=+/-]+\.[A-Za-z0-9_=+/-]*`)

// Masker replaces secrets by fingerprints. It remembers every secret it has
// seen, so that the same value is also masked where it appears as free text
// (an HTML page, codex's output). Safe for concurrent use.
type Masker struct {
	mu      sync.Mutex
	secrets map[string]string // raw → fingerprint
}

// NewMasker returns a masker that knows no secret yet.
func NewMasker() *Masker { return &Masker{secrets: map[string]string{}} }

// minSecret is the shortest value treated as a secret: shorter ones (a
// state of "s", a code of "x") would mask innocent text everywhere.
const minSecret = 8

// Register makes value a secret of kind (an admin token, an internal
// secret) and returns its fingerprint.
func (m *Masker) Register(kind, value string) string {
	if len(value) < minSecret {
		return "‹" + kind + "›"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if fp, ok := m.secrets[value]; ok {
		return fp
	}
	sum := sha256.Sum256([]byte(value))
	fp := "‹" + kind + "·" + hex.EncodeToString(sum[:3]) + "›"
	m.secrets[value] = fp
	return fp
}

// Secrets lists every raw secret seen (for tests that scan reports).
func (m *Masker) Secrets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.secrets))
}

// Text masks every known secret and every JWT in free text (made safe for
// every report format, see CleanText).
func (m *Masker) Text(s string) string {
	s = CleanText(s)
	s = jwtPattern.ReplaceAllStringFunc(s, func(tok string) string { return m.Register(jwtKind(tok), tok) })
	m.mu.Lock()
	known := make([]string, 0, len(m.secrets))
	for raw := range m.secrets {
		known = append(known, raw)
	}
	m.mu.Unlock()
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(known, func(i, j int) bool { return len(known[i]) > len(known[j]) })
	for _, raw := range known {
		if strings.Contains(s, raw) {
			s = strings.ReplaceAll(s, raw, m.Register("", raw))
		}
	}
	return s
}

// Header masks one header value.
func (m *Masker) Header(name, value string) string {
	if !secretHeaders[strings.ToLower(name)] {
		return m.Text(value)
	}
	if scheme, cred, ok := strings.Cut(value, " "); ok && (strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "basic")) {
		return scheme + " " + m.Register(strings.ToLower(scheme), cred)
	}
	if strings.EqualFold(name, "set-cookie") || strings.EqualFold(name, "cookie") {
		var parts []string
		for _, p := range strings.Split(value, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && v != "" && !isCookieAttribute(k) {
				v = m.Register("cookie", v)
			}
			if ok {
				parts = append(parts, k+"="+v)
			} else {
				parts = append(parts, k)
			}
		}
		return strings.Join(parts, "; ")
	}
	return m.Register(strings.ToLower(name), value)
}

func isCookieAttribute(k string) bool {
	switch strings.ToLower(k) {
	case "path", "domain", "expires", "max-age", "samesite":
		return true
	}
	return false
}

// URL masks secret query parameters (codes in redirects, for example).
func (m *Masker) URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return m.Text(raw)
	}
	q := u.Query()
	for k, vs := range q {
		for i, v := range vs {
			if secretFields[strings.ToLower(k)] {
				vs[i] = m.Register(strings.ToLower(k), v)
			} else {
				vs[i] = m.Text(v)
			}
		}
	}
	u.RawQuery = q.Encode()
	s, _ := url.QueryUnescape(u.String())
	return s
}

// Body masks a request or response body: JSON by field, forms by field,
// anything else as text. JWTs found in it are returned decoded.
func (m *Masker) Body(contentType, body string) (string, []JWT) {
	trimmed := strings.TrimSpace(body)
	switch {
	case trimmed == "":
		return "", nil
	case strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "["):
		var v any
		dec := json.NewDecoder(strings.NewReader(trimmed))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			var jwts []JWT
			v = m.walk(v, "", &jwts)
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if enc.Encode(v) == nil {
				return strings.TrimSpace(b.String()), jwts
			}
		}
	case strings.Contains(contentType, "x-www-form-urlencoded"):
		if q, err := url.ParseQuery(trimmed); err == nil {
			var jwts []JWT
			var parts []string
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				for _, v := range q[k] {
					parts = append(parts, k+"="+m.value(k, v, &jwts))
				}
			}
			return strings.Join(parts, "&"), jwts
		}
	}
	var jwts []JWT
	for _, tok := range jwtPattern.FindAllString(body, 8) {
		jwts = append(jwts, m.decode("", tok))
	}
	return m.Text(body), jwts
}

// walk masks a decoded JSON value: secret fields by name, JWTs anywhere.
func (m *Masker) walk(v any, key string, jwts *[]JWT) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = m.walk(x, k, jwts)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = m.walk(x, key, jwts)
		}
		return t
	case string:
		return m.value(key, t, jwts)
	}
	return v
}

// value masks one string found under key.
func (m *Masker) value(key, v string, jwts *[]JWT) string {
	if jwtPattern.MatchString(v) && strings.Count(v, ".") == 2 {
		d := m.decode(key, v)
		*jwts = append(*jwts, d)
		return d.Fingerprint
	}
	if k := strings.ToLower(key); secretFields[k] && !(k == "code" && errorCode.MatchString(v)) {
		return m.Register(k, v)
	}
	if strings.Contains(v, "://") && strings.Contains(v, "?") {
		// A URL inside a body (a redirect the admin API hands back, a
		// callback): its query may carry a code.
		return m.URL(v)
	}
	return m.Text(v)
}

// errorCode is what an error's "code" looks like (authorization_pending):
// not an authorization code.
var errorCode = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

// JWT is a token found in an exchange, decoded: its header and claims, with
// secret claims masked and the signature left out.
type JWT struct {
	Where       string         `json:"where,omitempty"`
	Fingerprint string         `json:"fingerprint"`
	Header      map[string]any `json:"header,omitempty"`
	Claims      map[string]any `json:"claims,omitempty"`
	Error       string         `json:"error,omitempty"`
}

func (m *Masker) decode(where, tok string) JWT {
	d := JWT{Where: where, Fingerprint: m.Register(jwtKind(tok), tok)}
	parts := strings.Split(tok, ".")
	for i, dst := range []*map[string]any{&d.Header, &d.Claims} {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			d.Error = "segment " + []string{"header", "payload"}[i] + " is not unpadded base64url"
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v map[string]any
		if dec.Decode(&v) != nil {
			d.Error = "segment " + []string{"header", "payload"}[i] + " is not a JSON object"
			continue
		}
		var nested []JWT
		*dst = m.walk(v, "", &nested).(map[string]any)
	}
	return d
}

// jwtKind names a JWT by what it most likely is, for its fingerprint.
func jwtKind(tok string) string {
	payload := strings.Split(tok, ".")
	if len(payload) < 2 {
		return "jwt"
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload[1], "="))
	if err != nil {
		return "jwt"
	}
	var c struct {
		Aud   any    `json:"aud"`
		Agent string `json:"agent_runtime_id"`
	}
	_ = json.Unmarshal(b, &c)
	switch {
	case c.Agent != "":
		return "agent_identity"
	case strings.Contains(strings.ToLower(string(mustJSON(c.Aud))), "api.openai.com"):
		return "access_token"
	case c.Aud != nil:
		return "id_token"
	}
	return "jwt"
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
