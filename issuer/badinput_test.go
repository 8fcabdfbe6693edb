package issuer_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/issuer"
)

// TestBadInputGetsPrecise4xx feeds every endpoint malformed input and
// checks each answer is the documented 4xx JSON error — never a 5xx, a
// panic or an HTML page.
func TestBadInputGetsPrecise4xx(t *testing.T) {
	e := start(t, func(c *issuer.Config) { c.InternalSecret = "internal-secret-0123456789" })
	login := e.browserLogin("alice")
	usedCode, redirect := e.authorize("alice", issuer.CodexRedirectURIs[0])
	e.postForm("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {issuer.CodexClientID}, "code": {usedCode}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
	freshCode := func() string { c, _ := e.authorize("alice", issuer.CodexRedirectURIs[0]); return c }
	form := "application/x-www-form-urlencoded"
	js := "application/json"
	codeForm := func(kv ...string) string {
		v := url.Values{"grant_type": {"authorization_code"}, "client_id": {issuer.CodexClientID}, "code": {freshCode()},
			"redirect_uri": {issuer.CodexRedirectURIs[0]}, "code_verifier": {verifier}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v.Encode()
	}
	big := strings.Repeat("a", 70<<10)
	cases := []struct {
		name, method, path, ct, body string
		status                       int
		code                         string
	}{
		{"token: no content type", "POST", "/oauth/token", "", "grant_type=refresh_token", 415, "invalid_request"},
		{"token: text/plain", "POST", "/oauth/token", "text/plain", "grant_type=refresh_token", 415, "invalid_request"},
		{"token: malformed content type", "POST", "/oauth/token", "a/b/c;;", "x", 415, "invalid_request"},
		{"token: malformed JSON", "POST", "/oauth/token", js, `{"grant_type":`, 400, "invalid_request"},
		{"token: JSON array", "POST", "/oauth/token", js, `["refresh_token"]`, 400, "invalid_request"},
		{"token: JSON number value", "POST", "/oauth/token", js, `{"grant_type":"refresh_token","refresh_token":5}`, 400, "invalid_request"},
		{"token: JSON duplicate field", "POST", "/oauth/token", js, `{"grant_type":"refresh_token","refresh_token":"a","refresh_token":"b"}`, 400, "invalid_request"},
		{"token: JSON trailing data", "POST", "/oauth/token", js, `{"grant_type":"refresh_token"} {}`, 400, "invalid_request"},
		{"token: malformed form", "POST", "/oauth/token", form, "grant_type=%zz", 400, "invalid_request"},
		{"token: duplicate form field", "POST", "/oauth/token", form, "grant_type=refresh_token&grant_type=refresh_token&refresh_token=x", 400, "invalid_request"},
		{"token: oversize body", "POST", "/oauth/token", form, "grant_type=refresh_token&refresh_token=" + big, 413, "invalid_request"},
		{"token: missing grant_type", "POST", "/oauth/token", form, "refresh_token=x", 400, "invalid_request"},
		{"token: unknown grant_type", "POST", "/oauth/token", form, "grant_type=password&username=a", 400, "unsupported_grant_type"},
		{"token: client_credentials", "POST", "/oauth/token", js, `{"grant_type":"client_credentials"}`, 400, "unsupported_grant_type"},
		{"refresh: missing token", "POST", "/oauth/token", js, `{"grant_type":"refresh_token","client_id":"` + issuer.CodexClientID + `"}`, 400, "invalid_request"},
		{"refresh: unknown token", "POST", "/oauth/token", js, `{"grant_type":"refresh_token","refresh_token":"rt_nope"}`, 400, "invalid_grant"},
		{"refresh: unregistered client", "POST", "/oauth/token", js, `{"grant_type":"refresh_token","client_id":"evil","refresh_token":"` + login.str("refresh_token") + `"}`, 401, "invalid_client"},
		{"code: missing code", "POST", "/oauth/token", form, codeForm("code", ""), 400, "invalid_request"},
		{"code: missing verifier", "POST", "/oauth/token", form, codeForm("code_verifier", ""), 400, "invalid_request"},
		{"code: missing redirect_uri", "POST", "/oauth/token", form, codeForm("redirect_uri", ""), 400, "invalid_request"},
		{"code: missing client_id", "POST", "/oauth/token", form, codeForm("client_id", ""), 400, "invalid_request"},
		{"code: unknown client", "POST", "/oauth/token", form, codeForm("client_id", "app_other"), 401, "invalid_client"},
		{"code: wrong verifier", "POST", "/oauth/token", form, codeForm("code_verifier", strings.Repeat("x", 86)), 400, "invalid_grant"},
		{"code: short verifier", "POST", "/oauth/token", form, codeForm("code_verifier", "abc"), 400, "invalid_grant"},
		{"code: reused code", "POST", "/oauth/token", form, codeForm("code", usedCode), 400, "invalid_grant"},
		{"code: unknown code", "POST", "/oauth/token", form, codeForm("code", "ac_unknown"), 400, "invalid_grant"},
		{"code: wrong redirect_uri", "POST", "/oauth/token", form, codeForm("redirect_uri", "http://localhost:1455/auth/callback"), 400, "invalid_grant"},
		{"exchange: wrong requested_token", "POST", "/oauth/token", form, url.Values{"grant_type": {issuer.GrantTokenExchange}, "client_id": {issuer.CodexClientID}, "requested_token": {"x"}, "subject_token": {"a.b.c"}, "subject_token_type": {issuer.TokenTypeIDToken}}.Encode(), 400, "invalid_target"},
		{"exchange: garbage subject", "POST", "/oauth/token", form, url.Values{"grant_type": {issuer.GrantTokenExchange}, "client_id": {issuer.CodexClientID}, "requested_token": {"openai-api-key"}, "subject_token": {"a.b.c"}, "subject_token_type": {issuer.TokenTypeIDToken}}.Encode(), 400, "invalid_grant"},
		{"exchange: missing subject", "POST", "/oauth/token", form, url.Values{"grant_type": {issuer.GrantTokenExchange}, "client_id": {issuer.CodexClientID}}.Encode(), 400, "invalid_request"},
		{"revoke: missing token", "POST", "/oauth/revoke", js, `{"token_type_hint":"refresh_token"}`, 400, "invalid_request"},
		{"refresh: scope beyond the grant", "POST", "/oauth/token", form, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.str("refresh_token")}, "scope": {"openid admin"}}.Encode(), 400, "invalid_scope"},
		{"revoke: malformed JSON", "POST", "/oauth/revoke", js, `{`, 400, "invalid_request"},
		{"revoke: wrong content type", "POST", "/oauth/revoke", "text/xml", `<x/>`, 415, "invalid_request"},
		{"revoke: unknown client", "POST", "/oauth/revoke", js, `{"token":"x","client_id":"nope"}`, 401, "invalid_client"},
		{"usercode: missing client", "POST", "/api/accounts/deviceauth/usercode", js, `{}`, 400, "invalid_request"},
		{"usercode: unknown client", "POST", "/api/accounts/deviceauth/usercode", js, `{"client_id":"nope"}`, 401, "invalid_client"},
		{"usercode: malformed JSON", "POST", "/api/accounts/deviceauth/usercode", js, `{"client_id"`, 400, "invalid_request"},
		{"usercode: oversize", "POST", "/api/accounts/deviceauth/usercode", js, `{"client_id":"` + big + `"}`, 413, "invalid_request"},
		{"device token: unknown id", "POST", "/api/accounts/deviceauth/token", js, `{"device_auth_id":"deviceauth_x","user_code":"BCDF-GHJK"}`, 400, "invalid_grant"},
		{"device token: missing user_code", "POST", "/api/accounts/deviceauth/token", js, `{"device_auth_id":"deviceauth_x"}`, 400, "invalid_request"},
		{"device token: empty body", "POST", "/api/accounts/deviceauth/token", js, ``, 400, "invalid_request"},
		{"device token: duplicated field", "POST", "/api/accounts/deviceauth/token", js, `{"device_auth_id":"a","device_auth_id":"b","user_code":"c"}`, 400, "invalid_request"},
		{"token: GET", "GET", "/oauth/token", "", "", 405, "method_not_allowed"},
		{"unknown path", "GET", "/nope", "", "", 404, "not_found"},
		{"admin: no token", "GET", "/__admin/state", "", "", 401, "unauthorized"},
		{"validate: no secret", "POST", "/internal/codex-auth/validate", js, `{}`, 401, "invalid_secret"},
		{"accounts check: no bearer", "GET", "/backend-api/wham/accounts/check", "", "", 401, "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.ct, tc.body)
			wantError(t, r, tc.status, tc.code)
			if r.str("error_description") == "" {
				t.Fatalf("no error_description in %s", r.body)
			}
		})
	}
}

func TestFuzzishTokenBodiesNever5xx(t *testing.T) {
	e := start(t, nil)
	bodies := []string{"", "{}", "null", "[]", `"x"`, "{\"a\":{\"b\":1}}", "\x00\x01", "=", "&&&", "grant_type", "grant_type=",
		`{"grant_type":null}`, `{"grant_type":"refresh_token","refresh_token":""}`, strings.Repeat("{", 5000)}
	for _, path := range []string{"/oauth/token", "/oauth/revoke", "/api/accounts/deviceauth/usercode", "/api/accounts/deviceauth/token"} {
		for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "application/json; charset=utf-8"} {
			for _, b := range bodies {
				r := e.do("POST", path, ct, b)
				if r.status >= 500 || r.status < 400 && path != "/oauth/revoke" {
					t.Errorf("%s %s %q: %d %s", path, ct, b, r.status, r.body)
				}
			}
		}
	}
}
