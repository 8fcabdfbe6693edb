package issuer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/codexauth/codexauth/issuer/store"
)

// The console shows every exchange with its secrets masked at the moment
// it is recorded: the timeline never holds a refresh token, code,
// verifier, device id, password, admin token or signature, so neither its
// pages nor its event stream can leak one. A masked value keeps what helps
// a developer follow it — its kind, a known prefix, and a fingerprint (the
// first characters of store.Hash, the hash the store keys it by) that is
// the same wherever the value appears. Low-entropy values (user codes,
// state) get no fingerprint, only their first characters.

// secretFields are body, query and form fields whose values are secrets.
var secretFields = map[string]bool{
	"refresh_token": true, "access_token": true, "id_token": true, "code": true, "authorization_code": true,
	"code_verifier": true, "device_auth_id": true, "password": true, "token": true, "subject_token": true,
	"actor_token": true, "assertion": true, "client_secret": true, "csrf": true, "jwt": true, "api_key": true,
	"openai_api_key": true, "secret": true, "internal_secret": true, "private_key": true, "agent_private_key": true,
	"session": true, "signature": true, "admin_token": true,
}

// partialFields show their first characters only.
var partialFields = map[string]int{"user_code": 4, "state": 4}

// secretPrefixes are the issuer's (and codex's) secret formats, masked
// wherever they appear.
var secretPrefixes = []string{"rt_", "ac_", "deviceauth_", "sk-", "at-"}

// fingerprint identifies a secret without revealing it.
func fingerprint(v string) string { return store.Hash(v)[:8] }

// hashFingerprint is the fingerprint of a secret the store keeps as hash.
func hashFingerprint(hash string) string {
	if len(hash) < 8 {
		return hash
	}
	return hash[:8]
}

// maskSecret renders a secret as its kind and, for the issuer's own
// high-entropy formats (refresh tokens, codes, device ids, API keys,
// personal access tokens), its fingerprint. Anything else — a password,
// an admin token, a client secret, a verifier — gets no fingerprint: a
// human-chosen value could be guessed back from it.
func maskSecret(v string) string {
	if v == "" {
		return ""
	}
	for _, p := range secretPrefixes {
		if strings.HasPrefix(v, p) && len(v) >= len(p)+32 {
			return fmt.Sprintf("‹%s… masked #%s›", p, fingerprint(v))
		}
	}
	return "‹masked›"
}

// maskPartial shows the first n characters of a low-entropy secret.
func maskPartial(v string, n int) string {
	if len(v) <= n {
		return "‹masked›"
	}
	return v[:n] + "‹…masked›"
}

func looksSecret(v string) bool {
	for _, p := range secretPrefixes {
		if strings.HasPrefix(v, p) && len(v) > len(p)+8 {
			return true
		}
	}
	return looksLikeJWT(v) && strings.HasPrefix(v, "eyJ")
}

// plausibleName reports whether a field name looks like one: a body sent
// with the wrong Content-Type can turn a secret into a "name".
func plausibleName(k string) bool {
	if k == "" || len(k) > 64 || looksSecret(k) {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.[]:/", r)) {
			return false
		}
	}
	return true
}

// maskField masks one named value (string form, for queries and forms).
func maskField(key, v string) string {
	k := strings.ToLower(key)
	if n, ok := partialFields[k]; ok {
		return maskPartial(v, n)
	}
	if secretFields[k] || looksSecret(v) {
		if jwt, ok := decodeJWT(v); ok {
			return fmt.Sprintf("‹JWT %s masked #%s›", jwt.summary(), fingerprint(v))
		}
		return maskSecret(v)
	}
	if u, err := url.Parse(v); err == nil && u.IsAbs() && u.RawQuery != "" {
		return maskURL(v)
	}
	return v
}

// maskURL masks the secrets in a URL's query (a redirect carrying a code).
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "‹unparsable URL masked›"
	}
	if u.RawQuery == "" {
		return raw
	}
	u.RawQuery = maskQuery(u.Query())
	return u.String()
}

func maskQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			if !plausibleName(k) {
				parts = append(parts, "‹odd field name masked›=‹masked›")
				continue
			}
			parts = append(parts, url.QueryEscape(k)+"="+maskField(k, v))
		}
	}
	return strings.Join(parts, "&")
}

// decodedJWT is a JWT's header and claims (never its signature).
type decodedJWT struct {
	Header map[string]any `json:"header"`
	Claims map[string]any `json:"claims"`
}

func (j decodedJWT) summary() string {
	var parts []string
	if alg, _ := j.Header["alg"].(string); alg != "" {
		parts = append(parts, alg)
	}
	if sub, _ := j.Claims["sub"].(string); sub != "" {
		parts = append(parts, "sub="+sub)
	}
	return strings.Join(parts, " ")
}

// decodeJWT decodes a compact JWS's header and payload without verifying
// it (the console shows what was sent, whatever it is).
func decodeJWT(raw string) (decodedJWT, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return decodedJWT{}, false
	}
	var j decodedJWT
	for i, dst := range []*map[string]any{&j.Header, &j.Claims} {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			return decodedJWT{}, false
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			return decodedJWT{}, false
		}
	}
	return j, true
}

// maskJSONValue walks a decoded JSON value and masks its secrets. A JWT
// becomes an object with its decoded header and claims; jwts collects
// them (for the access tokens the console lists).
func maskJSONValue(key string, v any, jwts func(decodedJWT)) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		odd := 0
		for k, vv := range t {
			if !plausibleName(k) {
				odd++
				out["‹odd field name masked "+strconv.Itoa(odd)+"›"] = "‹masked›"
				continue
			}
			out[k] = maskJSONValue(k, vv, jwts)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, vv := range t {
			out[i] = maskJSONValue(key, vv, jwts)
		}
		return out
	case string:
		k := strings.ToLower(key)
		if n, ok := partialFields[k]; ok {
			return maskPartial(t, n)
		}
		if secretFields[k] || looksSecret(t) {
			if j, ok := decodeJWT(t); ok {
				if jwts != nil {
					jwts(j)
				}
				return map[string]any{"‹JWT masked›": "#" + fingerprint(t), "header": j.Header, "claims": j.Claims}
			}
			return maskSecret(t)
		}
		if u, err := url.Parse(t); err == nil && u.IsAbs() && u.RawQuery != "" {
			return maskURL(t)
		}
		return t
	}
	return v
}

// shownBodyLimit bounds a masked body as the timeline keeps it.
const shownBodyLimit = 8 << 10

// maskBody renders a request or response body with its secrets masked:
// JSON objects and forms field by field; anything else only by size, since
// its secrets cannot be told apart. Long results are cut (they hold no
// secret, so cutting is safe).
func maskBody(contentType string, body []byte, truncated bool, jwts func(decodedJWT)) string {
	out := maskBodyFull(contentType, body, truncated, jwts)
	if len(out) > shownBodyLimit {
		out = strings.ToValidUTF8(out[:shownBodyLimit], "") + "\n… (cut at " + strconv.Itoa(shownBodyLimit) + " bytes)"
	}
	return out
}

func maskBodyFull(contentType string, body []byte, truncated bool, jwts func(decodedJWT)) string {
	if len(body) == 0 {
		return ""
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if truncated || dec.Decode(&v) != nil {
			return fmt.Sprintf("(%d bytes of %s that are not valid JSON: not shown, they may hold secrets)", len(body), mt)
		}
		out, err := json.MarshalIndent(maskJSONValue("", v, jwts), "", "  ")
		if err != nil {
			return "(unprintable JSON)"
		}
		return string(out)
	case "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(body))
		if err != nil || truncated {
			return fmt.Sprintf("(%d bytes of a malformed form: not shown, they may hold secrets)", len(body))
		}
		return strings.ReplaceAll(maskQuery(q), "&", "\n")
	}
	if mt == "" {
		mt = "an unlabelled body"
	}
	return fmt.Sprintf("(%d bytes of %s)", len(body), mt)
}

// shownRequestHeaders and shownResponseHeaders are the headers the
// timeline keeps, masked where they carry credentials.
var (
	shownRequestHeaders  = []string{"Content-Type", "Accept", "User-Agent", "Origin", "Referer", "Authorization", "Cookie", "X-Internal-Secret", "Originator"}
	shownResponseHeaders = []string{"Content-Type", "Location", "Set-Cookie", "WWW-Authenticate", "Retry-After", "Cache-Control"}
)

func maskHeaders(h http.Header, names []string) [][2]string {
	var out [][2]string
	for _, name := range names {
		for _, v := range h.Values(name) {
			out = append(out, [2]string{name, maskHeader(name, v)})
		}
	}
	return out
}

func maskHeader(name, v string) string {
	switch http.CanonicalHeaderKey(name) {
	case "Authorization":
		scheme, cred, ok := strings.Cut(v, " ")
		if !ok {
			return "‹masked›"
		}
		if j, ok := decodeJWT(cred); ok {
			return scheme + " ‹JWT " + j.summary() + " masked #" + fingerprint(cred) + "›"
		}
		return scheme + " " + maskSecret(cred)
	case "Cookie":
		var parts []string
		for _, c := range strings.Split(v, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(c), "=")
			parts = append(parts, name+"=‹masked›")
		}
		return strings.Join(parts, "; ")
	case "Set-Cookie":
		first, attrs, _ := strings.Cut(v, ";")
		name, _, _ := strings.Cut(first, "=")
		if attrs != "" {
			attrs = ";" + attrs
		}
		return name + "=‹masked›" + attrs
	case "X-Internal-Secret":
		return "‹masked›"
	case "Location", "Referer":
		return maskURL(v)
	}
	return v
}
