package issuer

import (
	"net/http"

	"github.com/codexauth/codexauth/issuer/input"
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

// encoding says which body encodings an endpoint takes.
type encoding int

const (
	encForm = encoding(input.Form)
	encJSON = encoding(input.JSON)
	encBoth = encForm | encJSON
)

// readParams reads a POST body and parses it as JSON or form, per
// Content-Type (input.ParseBody: size limit, every field once, string values
// only, UTF-8), answering what is wrong as invalid_request.
func readParams(_ http.ResponseWriter, r *http.Request, allow encoding) (params, *oauth.Error) {
	body, rerr := readBody(r)
	if rerr != nil {
		return params{}, rerr
	}
	f, err := input.ParseBody(r.Header.Get("Content-Type"), body, input.Encoding(allow))
	if err != nil {
		return params{}, inputError(err)
	}
	return params{values: f.Values, isJSON: f.IsJSON}, nil
}

// parseJSONObject decodes a flat JSON object of strings (input.ParseJSONObject).
func parseJSONObject(body []byte) (map[string]string, *oauth.Error) {
	v, err := input.ParseJSONObject(body)
	if err != nil {
		return nil, inputError(err)
	}
	return v, nil
}

func inputError(e *input.Error) *oauth.Error {
	return oauth.New(e.Status, oauth.CodeInvalidRequest, "%s", e.Description)
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
