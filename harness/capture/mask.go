package capture

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// IssuerHost is how a capture writes the issuer's own address
// (127.0.0.1:PORT changes with every run): http://issuer.test/… in URLs,
// raw and percent-encoded alike, and "host: issuer.test".
const IssuerHost = "issuer.test"

// A masked value is written "masked.<shape>": "masked.jwt" for a JWT,
// "masked.uuid" for a UUID, else "masked.<length>" — the shape an issuer
// sees without the secret. The characters survive codex's and Go's form
// encoders unchanged, so a masked request can be replayed byte for byte.
const maskPrefix = "masked."

// plainKeys are fields whose values are protocol constants or
// deterministic here, never secrets: kept verbatim, so a changed value is
// drift.
var plainKeys = map[string]bool{
	"grant_type": true, "client_id": true, "refresh_reason": true, "token_type_hint": true, "redirect_uri": true,
	"subject_token_type": true, "requested_token": true, "scope": true, "response_type": true,
	"code_challenge_method": true, "id_token_add_organizations": true, "codex_cli_simplified_flow": true,
	"originator": true, "type": true, "token_type": true, "issued_token_type": true, "expires_in": true,
	"interval": true, "verification_uri": true, "verification_url": true, "error": true, "error_description": true,
	"kty": true, "alg": true, "use": true, "crv": true, "e": true, "allowed_workspace_id": true,
	"chatgpt_plan_type": true, "plan_type": true, "email": true, "workspace_backend_origin": true,
}

// secretKeys are always masked, whatever their value looks like.
var secretKeys = map[string]bool{
	"code": true, "code_verifier": true, "code_challenge": true, "state": true, "refresh_token": true,
	"access_token": true, "id_token": true, "token": true, "subject_token": true, "assertion": true,
	"client_assertion": true, "device_auth_id": true, "user_code": true, "authorization_code": true,
	"personal_access_token": true, "api_key": true, "password": true, "signature": true, "n": true, "x": true,
	"y": true, "kid": true, "nonce": true, "task_id": true, "encrypted_task_id": true, "public_key": true,
	"federation_rule_id": true, "runtime_id": true,
}

var (
	jwtShape  = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$`)
	uuidShape = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	opaque    = regexp.MustCompile(`^[A-Za-z0-9_\-.~+/=]{16,}$`)
	timestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
	letter    = regexp.MustCompile(`[A-Za-z]`)
	digit     = regexp.MustCompile(`[0-9]`)
)

// maskValue masks one field value (key may be "").
func maskValue(key, v string) string {
	switch {
	case v == "" || strings.HasPrefix(v, maskPrefix):
		return v
	case plainKeys[key]:
		return v
	case jwtShape.MatchString(v):
		return maskPrefix + "jwt"
	case uuidShape.MatchString(v):
		return maskPrefix + "uuid"
	case timestamp.MatchString(v):
		return maskPrefix + "timestamp"
	case strings.Contains(v, "://") && strings.Contains(v, "?"):
		base, query, _ := strings.Cut(v, "?")
		return base + "?" + maskForm(query)
	case secretKeys[key]:
		return maskPrefix + strconv.Itoa(len(v))
	case opaque.MatchString(v) && letter.MatchString(v) && digit.MatchString(v) && !strings.Contains(v, "://"):
		return maskPrefix + strconv.Itoa(len(v))
	}
	return v
}

// maskPath masks the path segments that look like generated ids (an
// agent's runtime id, a task id).
func maskPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = maskValue("", s)
	}
	return strings.Join(segs, "/")
}

// masker normalises the issuer's address and masks secrets.
type masker struct {
	issuerHostPort string // "127.0.0.1:PORT"
}

// host rewrites the issuer's host:port, raw and percent-encoded.
func (m masker) host(s string) string {
	if m.issuerHostPort == "" {
		return s
	}
	s = strings.ReplaceAll(s, m.issuerHostPort, IssuerHost)
	enc := strings.Replace(m.issuerHostPort, ":", "%3A", 1)
	s = strings.ReplaceAll(s, enc, IssuerHost)
	return strings.ReplaceAll(s, strings.ToLower(enc), IssuerHost)
}

// body masks a request or response body of the given content type,
// keeping its encoding, field order and formatting.
func (m masker) body(contentType, b string) string {
	b = m.host(b)
	trimmed := strings.TrimSpace(b)
	switch {
	case trimmed == "":
		return b
	case strings.Contains(contentType, "json") || strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "["):
		if out, ok := maskJSON(trimmed); ok {
			return out
		}
	case strings.Contains(contentType, "x-www-form-urlencoded") || looksLikeForm(trimmed):
		return maskForm(trimmed)
	}
	if jwtShape.MatchString(trimmed) {
		return maskPrefix + "jwt"
	}
	if len(trimmed) > 400 {
		return trimmed[:400] + "…"
	}
	return trimmed
}

var formShape = regexp.MustCompile(`^[A-Za-z0-9_.\-]+=[^&\s]*(&[A-Za-z0-9_.\-]+=[^&\s]*)*$`)

func looksLikeForm(s string) bool { return formShape.MatchString(s) }

// maskForm masks the values of an application/x-www-form-urlencoded body
// or query, leaving unmasked pairs byte for byte as sent.
func maskForm(s string) string {
	parts := strings.Split(s, "&")
	for i, kv := range parts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		key, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			continue
		}
		if mv := maskValue(key, val); mv != val {
			parts[i] = k + "=" + mv
		}
	}
	return strings.Join(parts, "&")
}

// maskJSON re-emits a JSON document compactly with secret strings masked,
// in the document's own key order.
func maskJSON(s string) (string, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out bytes.Buffer
	if err := maskJSONValue(dec, &out, ""); err != nil {
		return "", false
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", false
	}
	return out.String(), true
}

func maskJSONValue(dec *json.Decoder, out *bytes.Buffer, key string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			out.WriteByte('{')
			for first := true; dec.More(); first = false {
				if !first {
					out.WriteByte(',')
				}
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				writeJSONString(out, k)
				out.WriteByte(':')
				if err := maskJSONValue(dec, out, k); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			out.WriteByte('}')
		case '[':
			out.WriteByte('[')
			for first := true; dec.More(); first = false {
				if !first {
					out.WriteByte(',')
				}
				if err := maskJSONValue(dec, out, key); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			out.WriteByte(']')
		}
	case string:
		writeJSONString(out, maskValue(key, t))
	case json.Number:
		out.WriteString(t.String())
	case bool:
		out.WriteString(strconv.FormatBool(t))
	case nil:
		out.WriteString("null")
	}
	return nil
}

func writeJSONString(out *bytes.Buffer, s string) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out.Truncate(out.Len() - 1) // Encode's newline
}

// headerValue masks a request header's value.
func (m masker) headerValue(name, v string) string {
	v = m.host(v)
	switch name {
	case "authorization", "proxy-authorization":
		scheme, cred, ok := strings.Cut(v, " ")
		if !ok {
			return maskValue("token", v)
		}
		return scheme + " " + maskValue("token", cred)
	case "cookie", "set-cookie", "x-internal-secret":
		return maskPrefix + strconv.Itoa(len(v))
	}
	return maskValue("", v)
}
