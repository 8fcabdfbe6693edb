package capture

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// What an issuer can see of a request, the terms Diff compares two captures in: its endpoint, headers and the
// fields of its body and query, flattened.

// field is one body or query field, flattened ("a.b" for nested objects).
type field struct {
	Key  string
	Kind string // string, number, bool, null, object, array
	Val  string
}

// shape is what an issuer can see of a request.
type shape struct {
	key      string // "METHOD path (host)"
	encoding string // json, form, empty, other
	fields   []field
	query    []field
	headers  map[string]string
}

func (e Exchange) host() string {
	if h := e.Header("host"); h != "" && h != IssuerHost {
		return h
	}
	return "issuer"
}

// Key names an endpoint as codex addresses it.
func (e Exchange) Key() string {
	k := e.Method + " " + e.Path()
	if h := e.host(); h != "issuer" {
		k += " (" + h + ")"
	}
	if e.Note != "" {
		k += " [browser]"
	}
	return k
}

var uaVersion = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]*)/\d+\.\d+\.\d+\S*( \([^)]*\))?`)

// normHeader removes what differs between any two runs or machines but is
// no protocol: the version and platform in User-Agent.
func normHeader(name, v string) string {
	if name == "user-agent" {
		return uaVersion.ReplaceAllString(v, "$1/VERSION (PLATFORM)")
	}
	return v
}

func shapeOf(e Exchange) shape {
	s := shape{key: e.Key(), headers: map[string]string{}}
	for _, h := range e.Headers {
		if h.Name != "host" {
			s.headers[h.Name] = normHeader(h.Name, h.Value)
		}
	}
	if _, q, ok := strings.Cut(e.Target, "?"); ok {
		s.query = formFields(q)
	}
	body := strings.TrimSpace(e.Body)
	switch {
	case body == "":
		s.encoding = "empty"
	case strings.HasPrefix(body, "{") || strings.HasPrefix(body, "["):
		s.encoding = "json"
		s.fields = jsonFields(body)
	case looksLikeForm(body):
		s.encoding = "form"
		s.fields = formFields(body)
	default:
		s.encoding = "other"
	}
	return s
}

func formFields(s string) []field {
	var out []field
	for _, kv := range strings.Split(s, "&") {
		k, v, _ := strings.Cut(kv, "=")
		key, _ := url.QueryUnescape(k)
		val, err := url.QueryUnescape(v)
		if err != nil {
			val = v
		}
		out = append(out, field{Key: key, Kind: "string", Val: val})
	}
	return out
}

func jsonFields(s string) []field {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out []field
	_ = walkJSON(dec, "", &out)
	return out
}

func walkJSON(dec *json.Decoder, path string, out *[]field) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			if path != "" {
				*out = append(*out, field{Key: path, Kind: "object"})
			}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				p := k
				if path != "" {
					p = path + "." + k
				}
				if err := walkJSON(dec, p, out); err != nil {
					return err
				}
			}
		} else {
			n := 0
			for ; dec.More(); n++ {
				var skip []field
				if err := walkJSON(dec, path+"[]", &skip); err != nil {
					return err
				}
				if n == 0 {
					*out = append(*out, field{Key: path, Kind: "array"})
					*out = append(*out, skip...)
				}
			}
			if n == 0 {
				*out = append(*out, field{Key: path, Kind: "array"})
			}
		}
		_, err := dec.Token()
		return err
	case string:
		*out = append(*out, field{Key: path, Kind: "string", Val: t})
	case json.Number:
		*out = append(*out, field{Key: path, Kind: "number", Val: t.String()})
	case bool:
		*out = append(*out, field{Key: path, Kind: "bool", Val: fmt.Sprint(t)})
	case nil:
		*out = append(*out, field{Key: path, Kind: "null"})
	}
	return nil
}
