package issuer

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/codexauth/codexauth/issuer/oauth"
)

// maxBody bounds every request body: codex's largest (the token exchange
// carrying an id_token) is a few KiB.
const maxBody = 64 << 10

// params are the fields of a POST body, JSON object or form, with the
// rules RFC 6749 §3.1 sets for both: every field at most once.
type params struct {
	values map[string]string
	isJSON bool
}

func (p params) get(k string) string { return p.values[k] }

func (p params) has(k string) bool { _, ok := p.values[k]; return ok }

// encoding says which body encodings an endpoint takes.
type encoding int

const (
	encForm encoding = 1 << iota
	encJSON
	encBoth = encForm | encJSON
)

// readParams parses a POST body as JSON or form, per Content-Type, with a
// size limit, duplicate detection and string-only values.
func readParams(w http.ResponseWriter, r *http.Request, allow encoding) (params, *oauth.Error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return params{}, oauth.New(http.StatusUnsupportedMediaType, oauth.CodeInvalidRequest, "missing Content-Type: send application/json or application/x-www-form-urlencoded")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return params{}, oauth.New(http.StatusUnsupportedMediaType, oauth.CodeInvalidRequest, "malformed Content-Type %q", ct)
	}
	body, rerr := readBody(r)
	if rerr != nil {
		return params{}, rerr
	}
	switch {
	case mt == "application/json" && allow&encJSON != 0:
		v, perr := parseJSONObject(body)
		if perr != nil {
			return params{}, perr
		}
		return params{values: v, isJSON: true}, nil
	case mt == "application/x-www-form-urlencoded" && allow&encForm != 0:
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return params{}, oauth.InvalidRequest("malformed form body: %v", err)
		}
		v := map[string]string{}
		for k, vs := range q {
			if len(vs) > 1 {
				return params{}, oauth.InvalidRequest("parameter %q appears %d times; each may appear once (RFC 6749 §3.1)", k, len(vs))
			}
			v[k] = vs[0]
		}
		return params{values: v}, nil
	}
	want := "application/json or application/x-www-form-urlencoded"
	switch allow {
	case encJSON:
		want = "application/json"
	case encForm:
		want = "application/x-www-form-urlencoded"
	}
	return params{}, oauth.New(http.StatusUnsupportedMediaType, oauth.CodeInvalidRequest, "unsupported Content-Type %q: send %s", mt, want)
}

// parseJSONObject decodes a flat JSON object whose values are strings
// (null counts as absent), rejecting duplicate keys and trailing data.
func parseJSONObject(body []byte) (map[string]string, *oauth.Error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, oauth.InvalidRequest("malformed JSON body: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, oauth.InvalidRequest("JSON body must be an object")
	}
	out := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, oauth.InvalidRequest("malformed JSON body: %v", err)
		}
		key, _ := kt.(string)
		if seen[key] {
			return nil, oauth.InvalidRequest("field %q appears more than once", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, oauth.InvalidRequest("malformed JSON body: %v", err)
		}
		if string(raw) == "null" {
			continue
		}
		var sv string
		if err := json.Unmarshal(raw, &sv); err != nil {
			return nil, oauth.InvalidRequest("field %q must be a string", key)
		}
		out[key] = sv
	}
	if _, err := dec.Token(); err != nil {
		return nil, oauth.InvalidRequest("malformed JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, oauth.InvalidRequest("unexpected data after the JSON object")
	}
	return out, nil
}

// require returns the first missing or empty field as invalid_request.
func (p params) require(fields ...string) *oauth.Error {
	for _, f := range fields {
		if p.values[f] == "" {
			return oauth.InvalidRequest("missing required parameter %q", f)
		}
	}
	return nil
}
