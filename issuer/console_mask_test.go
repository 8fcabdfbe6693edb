package issuer

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/issuer/store"
)

func testJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc([]byte(claims)) + ".c2lnbmF0dXJlLXNlY3JldC1wYXJ0"
}

// TestMaskingKeepsNoSecret: every way a secret reaches the timeline —
// a JSON field (nested, in arrays, in an error), a form field, a query, a
// redirect URL inside a JSON string, a header — comes out masked, with the
// fingerprint the store's hash gives, and JWTs come out decoded without
// their signature.
func TestMaskingKeepsNoSecret(t *testing.T) {
	rt := "rt_" + strings.Repeat("A", 43)
	code := "ac_" + strings.Repeat("B", 43)
	jwt := testJWT(`{"sub":"alice","jti":"j1","exp":1700000000}`)
	body := `{"refresh_token":"` + rt + `","nested":{"list":["` + code + `",{"id_token":"` + jwt + `"}]},` +
		`"redirect":"http://127.0.0.1:1455/auth/callback?code=` + code + `&state=abcdefgh12345","user_code":"BCDF-GHJK","interval":"5"}`
	var seen []decodedJWT
	out := maskBody("application/json; charset=utf-8", []byte(body), false, func(j decodedJWT) { seen = append(seen, j) })
	for _, secret := range []string{rt, code, jwt, "c2lnbmF0dXJlLXNlY3JldC1wYXJ0", "GHJK", "abcdefgh12345"} {
		if strings.Contains(out, secret) {
			t.Errorf("masked JSON still holds %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"‹rt_… masked #" + hashFingerprint(store.Hash(rt)) + "›", `"sub": "alice"`, `"interval": "5"`, "BCDF‹…masked›", "state=abcd‹…masked›"} {
		if !strings.Contains(out, want) {
			t.Errorf("masked JSON lacks %q:\n%s", want, out)
		}
	}
	if len(seen) != 1 || seen[0].Claims["jti"] != "j1" {
		t.Errorf("decoded JWTs: %+v", seen)
	}

	form := maskBody("application/x-www-form-urlencoded", []byte("grant_type=authorization_code&code="+code+"&code_verifier=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv&password=hunter2hunter2&csrf=tok-tok-tok-tok"), false, nil)
	for _, secret := range []string{code, "vvvvvvvvvvvvvvvvvvvv", "hunter2", "tok-tok"} {
		if strings.Contains(form, secret) {
			t.Errorf("masked form still holds %q:\n%s", secret, form)
		}
	}
	if !strings.Contains(form, "grant_type=authorization_code") {
		t.Errorf("masked form lost its grant type:\n%s", form)
	}
	for _, b := range []string{`{"refresh_token":"` + rt, "refresh_token=" + rt + "&a=%zz"} {
		for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
			if out := maskBody(ct, []byte(b), false, nil); strings.Contains(out, rt) {
				t.Errorf("a malformed %s body is shown: %s", ct, out)
			}
		}
	}
	if out := maskBody("text/html", []byte("<input name=csrf value=secret-value>"), false, nil); strings.Contains(out, "secret-value") {
		t.Errorf("an HTML body is shown: %s", out)
	}

	h := http.Header{}
	h.Set("Authorization", "Bearer "+jwt)
	h.Add("Cookie", "codexauth_session=sess-secret-1; codexauth_csrf=csrf-secret-2")
	h.Set("X-Internal-Secret", "internal-secret-3")
	h.Set("Location", "http://127.0.0.1:1455/auth/callback?code="+code+"&state=st")
	h.Set("Set-Cookie", "codexauth_session=sess-secret-4; Path=/; HttpOnly")
	shown := ""
	for _, kv := range maskHeaders(h, append(shownRequestHeaders, shownResponseHeaders...)) {
		shown += kv[0] + ": " + kv[1] + "\n"
	}
	for _, secret := range []string{jwt, "sess-secret", "csrf-secret", "internal-secret", code} {
		if strings.Contains(shown, secret) {
			t.Errorf("masked headers still hold %q:\n%s", secret, shown)
		}
	}
	if !strings.Contains(shown, "Bearer ‹JWT RS256 sub=alice masked #") || !strings.Contains(shown, "HttpOnly") {
		t.Errorf("masked headers lost what helps:\n%s", shown)
	}
	// A human-chosen secret (an admin token, a password) gets no
	// fingerprint that could be guessed back.
	weak := "adminadminadmin1"
	h = http.Header{}
	h.Set("Authorization", "Bearer "+weak)
	if got := maskHeaders(h, []string{"Authorization"})[0][1]; got != "Bearer ‹masked›" || strings.Contains(got, fingerprint(weak)) {
		t.Errorf("an admin token is shown as %q", got)
	}
	if got := maskField("password", "hunter2hunter2"); got != "‹masked›" {
		t.Errorf("a password is shown as %q", got)
	}
	if got := maskBody("application/json", []byte(`{"x":"`+strings.Repeat("y", 3*shownBodyLimit)+`"}`), false, nil); len(got) > shownBodyLimit+64 {
		t.Errorf("a long body is kept whole (%d bytes)", len(got))
	}
}

// TestFlowsAndOutcomes names requests as the timeline shows them.
func TestFlowsAndOutcomes(t *testing.T) {
	for _, tc := range []struct{ rel, grant, want string }{
		{"/oauth/token", "refresh_token", "token: refresh_token"},
		{"/oauth/token", GrantTokenExchange, "token: token-exchange"},
		{"/api/accounts/deviceauth/token", "", "device: poll"},
		{"/backend-api/wham/agent-identities/jwks", "", "jwks"},
		{"/__admin/clock/advance", "", "admin: clock/advance"},
	} {
		if got := flowOf(tc.rel, tc.grant); got != tc.want {
			t.Errorf("flowOf(%s, %s) = %q, want %q", tc.rel, tc.grant, got, tc.want)
		}
	}
	for _, tc := range []struct {
		status   int
		body     string
		rotation string
		want     string
	}{
		{200, `{}`, "rotated", "rotated"},
		{401, `{"error":"refresh_token_reused"}`, "reused", "refresh_token_reused"},
		{401, `{"error":{"code":"refresh_token_expired"}}`, "", "refresh_token_expired"},
		{302, ``, "", "redirect"},
		{500, `oops`, "", "http 500"},
	} {
		if got := outcomeOf(tc.status, "application/json", []byte(tc.body), tc.rotation); got != tc.want {
			t.Errorf("outcomeOf(%d, %s) = %q, want %q", tc.status, tc.body, got, tc.want)
		}
	}
}
