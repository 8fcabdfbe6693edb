// Package input parses what clients type and send the issuer: POST bodies
// that are a JSON object or a form (RFC 6749 §3.1: every parameter at most
// once; Appendix B: UTF-8), and device user codes (RFC 8628 §6.1). It has no
// dependency beyond the standard library's parsers, so that its fuzz targets
// (`go test -fuzz . ./issuer/input`) run fast; the issuer maps its errors to
// OAuth error answers.
package input

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Encoding is a set of body encodings an endpoint takes.
type Encoding int

// Encodings.
const (
	Form Encoding = 1 << iota
	JSON
	Both = Form | JSON
)

// Fields are the parameters of a body, each present once, strings only.
type Fields struct {
	Values map[string]string
	// IsJSON: the body was a JSON object (else a form).
	IsJSON bool
}

// Error is why a body was refused: Status is 400 (malformed) or 415 (a
// content type the endpoint does not take).
type Error struct {
	Status      int
	Description string
}

func (e *Error) Error() string { return e.Description }

func malformed(format string, a ...any) *Error {
	return &Error{Status: 400, Description: fmt.Sprintf(format, a...)}
}

func unsupported(format string, a ...any) *Error {
	return &Error{Status: 415, Description: fmt.Sprintf(format, a...)}
}

// ParseBody parses body per its Content-Type header value, taking only the
// encodings in allow.
func ParseBody(contentType string, body []byte, allow Encoding) (Fields, *Error) {
	if contentType == "" {
		return Fields{}, unsupported("missing Content-Type: send application/json or application/x-www-form-urlencoded")
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Fields{}, unsupported("malformed Content-Type %q", contentType)
	}
	switch {
	case mt == "application/json" && allow&JSON != 0:
		v, perr := ParseJSONObject(body)
		if perr != nil {
			return Fields{}, perr
		}
		return Fields{Values: v, IsJSON: true}, nil
	case mt == "application/x-www-form-urlencoded" && allow&Form != 0:
		v, perr := ParseForm(body)
		if perr != nil {
			return Fields{}, perr
		}
		return Fields{Values: v}, nil
	}
	want := "application/json or application/x-www-form-urlencoded"
	switch allow {
	case JSON:
		want = "application/json"
	case Form:
		want = "application/x-www-form-urlencoded"
	}
	return Fields{}, unsupported("unsupported Content-Type %q: send %s", mt, want)
}

// ParseForm decodes an application/x-www-form-urlencoded body: each
// parameter at most once (RFC 6749 §3.1), names and values UTF-8 (Appendix B).
func ParseForm(body []byte) (map[string]string, *Error) {
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, malformed("malformed form body: %v", err)
	}
	v := make(map[string]string, len(q))
	for k, vs := range q {
		if len(vs) > 1 {
			return nil, malformed("parameter %q appears %d times; each may appear once (RFC 6749 §3.1)", k, len(vs))
		}
		if !utf8.ValidString(k) || !utf8.ValidString(vs[0]) {
			return nil, malformed("parameter %q is not UTF-8 (RFC 6749 Appendix B)", strings.ToValidUTF8(k, "\uFFFD"))
		}
		v[k] = vs[0]
	}
	return v, nil
}

// ParseJSONObject decodes a flat JSON object whose values are strings (null
// counts as absent), rejecting duplicate keys and trailing data.
func ParseJSONObject(body []byte) (map[string]string, *Error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed("malformed JSON body: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, malformed("JSON body must be an object")
	}
	out := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, malformed("malformed JSON body: %v", err)
		}
		key, _ := kt.(string)
		if seen[key] {
			return nil, malformed("field %q appears more than once", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed("malformed JSON body: %v", err)
		}
		if string(raw) == "null" {
			continue
		}
		var sv string
		if err := json.Unmarshal(raw, &sv); err != nil {
			return nil, malformed("field %q must be a string", key)
		}
		out[key] = sv
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed("malformed JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("unexpected data after the JSON object")
	}
	return out, nil
}

// UserCodeAlphabet avoids vowels (no words) and look-alikes (RFC 8628 §6.1).
const UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// NewUserCode is a fresh user code: XXXX-XXXX over UserCodeAlphabet.
func NewUserCode() string {
	var b strings.Builder
	for i := 0; i < 8; i++ {
		if i == 4 {
			b.WriteByte('-')
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(UserCodeAlphabet))))
		if err != nil {
			panic(err) // the OS RNG failing is unrecoverable
		}
		b.WriteByte(UserCodeAlphabet[n.Int64()])
	}
	return b.String()
}

// NormalizeUserCode makes typed codes comparable (RFC 8628 §6.1): ASCII
// letters in either case and digits count, everything else — separators,
// spaces, any other character — is dropped.
func NormalizeUserCode(c string) string {
	var b strings.Builder
	for i := 0; i < len(c); i++ {
		switch ch := c[i]; {
		case ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
			b.WriteByte(ch)
		case ch >= 'a' && ch <= 'z':
			b.WriteByte(ch - 'a' + 'A')
		}
	}
	return b.String()
}
