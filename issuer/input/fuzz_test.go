package input

// Fuzz targets of the body parser every JSON-or-form endpoint shares and of
// user-code normalisation (issue 15). `go test ./issuer/input` replays the
// seeds (f.Add below and testdata/fuzz/<target>); scripts/fuzz.sh explores.

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	ctJSON = "application/json"
	ctForm = "application/x-www-form-urlencoded"
)

var bodySeeds = []struct{ ct, body string }{
	{ctJSON, `{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_reason":"proactive_expiry","refresh_token":"rt_x"}`},
	{ctForm, "grant_type=authorization_code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&code=ac_x&redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback&code_verifier=v"},
	{ctJSON, `{"grant_type":"refresh_token","refresh_token":"a","refresh_token":"b"}`},
	{ctForm, "grant_type=refresh_token&grant_type=refresh_token"},
	{ctJSON, `{"grant_type":"refresh_token","refresh_token":5}`},
	{ctJSON, `{"grant_type":["refresh_token"],"refresh_token":{"a":1}}`},
	{ctJSON, `{"grant_type":null,"refresh_token":true}`},
	{ctJSON, `{"a":"\ud800","b":"\u0000"}`},
	{ctJSON, `{"grant_type":"refresh_token"} {}`},
	{ctJSON + "; charset=utf-8", `{"token":"x","token_type_hint":"refresh_token"}`},
	{ctForm, "token=%zz&a=%"},
	{ctForm, "a=1;b=2&&=&c"},
	{ctForm, "a=%86"},
	{"text/plain", "grant_type=refresh_token"},
	{"", ""},
	{"a/b/c;;", "x"},
	{ctJSON, `[]`},
	{ctJSON, "\"\xff\""},
	{ctJSON, `{"device_auth_id":"deviceauth_x","user_code":"BCDF-GHJK"}`},
	{ctForm, "device_auth_id=deviceauth_x&user_code=bcdf+ghjk"},
}

// reencode returns fields in the other encoding.
func reencode(f Fields) (ct string, body []byte) {
	if f.IsJSON {
		v := url.Values{}
		for k, s := range f.Values {
			v.Set(k, s)
		}
		return ctForm, []byte(v.Encode())
	}
	b, _ := json.Marshal(f.Values)
	return ctJSON, b
}

// FuzzParseBody: a refusal is 400 or 415; an accepted body agrees with an
// independent parse (encoding/json, url.ParseQuery): every field once,
// string values only, null as absent, all UTF-8; and its fields re-encoded in
// the other encoding parse back to the very same fields (RFC 6749 §3.1 makes
// the two encodings one request).
func FuzzParseBody(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		got, perr := ParseBody(ct, body, Both)
		if perr != nil {
			if perr.Status != 400 && perr.Status != 415 || perr.Description == "" {
				t.Fatalf("refused with %d %q", perr.Status, perr.Description)
			}
			return
		}
		for k, v := range got.Values {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("field %q=%q is not UTF-8, yet accepted", k, v)
			}
		}
		if got.IsJSON {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("accepted a body encoding/json refuses: %v", err)
			}
			n := 0
			for k, v := range m {
				s, isStr := v.(string)
				_, present := got.Values[k]
				switch {
				case v == nil && present:
					t.Fatalf("null field %q present", k)
				case v != nil && !isStr:
					t.Fatalf("field %q of type %T accepted", k, v)
				case isStr && got.Values[k] != s:
					t.Fatalf("field %q: %q, encoding/json reads %q", k, got.Values[k], s)
				case isStr:
					n++
				}
			}
			if n != len(got.Values) {
				t.Fatalf("%d fields parsed, encoding/json sees %d strings", len(got.Values), n)
			}
		} else {
			q, err := url.ParseQuery(string(body))
			if err != nil {
				t.Fatalf("accepted a form url.ParseQuery refuses: %v", err)
			}
			for k, vs := range q {
				if len(vs) != 1 || got.Values[k] != vs[0] {
					t.Fatalf("form field %q: %q, url.ParseQuery reads %q", k, got.Values[k], vs)
				}
			}
			if len(q) != len(got.Values) {
				t.Fatalf("%d fields parsed, url.ParseQuery sees %d", len(got.Values), len(q))
			}
		}
		ct2, body2 := reencode(got)
		back, perr := ParseBody(ct2, body2, Both)
		if perr != nil {
			t.Fatalf("fields %q re-encoded as %s are refused: %v", got.Values, ct2, perr)
		}
		if len(back.Values) != len(got.Values) {
			t.Fatalf("round trip through %s: %q became %q", ct2, got.Values, back.Values)
		}
		for k, v := range got.Values {
			if back.Values[k] != v {
				t.Fatalf("round trip through %s: field %q %q became %q", ct2, k, v, back.Values[k])
			}
		}
		// An endpoint taking one encoding refuses the other with 415.
		other := Form
		if got.IsJSON {
			other = JSON
		}
		if _, perr := ParseBody(ct, body, Both&^other); perr == nil || perr.Status != 415 {
			t.Fatalf("an endpoint without %v took the body: %v", other, perr)
		}
	})
}

// FuzzUserCode: user-code normalisation (RFC 8628 §6.1: case and
// separators do not matter). The normal form holds only A-Z and 0-9, is a
// fixed point, ignores ASCII case and inserted separators; every code the
// issuer hands out survives the ways people type it.
func FuzzUserCode(f *testing.F) {
	// Codes the issuer hands out survive the ways people type them (checked
	// here, outside the fuzz function: random codes would make its coverage
	// nondeterministic).
	for i := 0; i < 100; i++ {
		code := NewUserCode()
		if len(code) != 9 || code[4] != '-' || strings.Trim(strings.ReplaceAll(code, "-", ""), UserCodeAlphabet) != "" {
			f.Fatalf("user code %q is not XXXX-XXXX over %s", code, UserCodeAlphabet)
		}
		for _, typed := range []string{strings.ToLower(code), strings.ReplaceAll(code, "-", ""), " " + strings.ReplaceAll(code, "-", " ") + " "} {
			if NormalizeUserCode(typed) != NormalizeUserCode(code) {
				f.Fatalf("code %q typed as %q does not match", code, typed)
			}
		}
	}
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "BCDFGHJK", " b-c-d-f-g-h-j-k ", "ſ", "ı", "K", "ß", "BCDF—GHJK", "\x00\xff", "١٢٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeUserCode(s)
		for _, r := range n {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("NormalizeUserCode(%q) = %q holds %q", s, n, r)
			}
		}
		if NormalizeUserCode(n) != n {
			t.Fatalf("not idempotent on %q: %q then %q", s, n, NormalizeUserCode(n))
		}
		if l, u := NormalizeUserCode(asciiCase(s, 'A', 'Z', 'a'-'A')), NormalizeUserCode(asciiCase(s, 'a', 'z', 'A'-'a')); l != n || u != n {
			t.Fatalf("case matters for %q: %q, lower %q, upper %q", s, n, l, u)
		}
		var spaced strings.Builder
		for i, r := range s {
			if i%3 == 0 {
				spaced.WriteString("- ")
			}
			spaced.WriteRune(r)
		}
		if got := NormalizeUserCode(spaced.String()); got != n {
			t.Fatalf("separators matter for %q: %q, with separators %q", s, n, got)
		}
	})
}

// asciiCase shifts the ASCII letters lo..hi by delta.
func asciiCase(s string, lo, hi rune, delta rune) string {
	return strings.Map(func(r rune) rune {
		if r >= lo && r <= hi {
			return r + delta
		}
		return r
	}, s)
}
