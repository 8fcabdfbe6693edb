package fuzz

// Each target asserts what must hold for every input, not only "no panic":
// an answer is never a 5xx or a success for a credential nobody issued, every
// refusal is the documented JSON error, the JSON and form encodings of the
// same fields get the same answer (RFC 6749 §3.1 makes them one request), and
// a request that does not name a token never revokes or rotates one.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/input"
	"github.com/codexauth/codexauth/issuer/store"
	"github.com/codexauth/codexauth/issuer/store/memory"
)

const (
	adminToken = "fuzz-admin-token-0123456789"
	secret     = "fuzz-internal-secret-0123456789"
	ctJSON     = "application/json"
	ctForm     = "application/x-www-form-urlencoded"
)

// target is one in-process issuer (memory store) with a signed-in user whose
// tokens must survive every fuzzed request that does not name them.
type target struct {
	handler                         http.Handler
	store                           store.Store
	accessToken, refreshToken, user string
}

func newTarget(tb testing.TB) *target {
	tb.Helper()
	ctx := context.Background()
	st := memory.New()
	if err := issuer.SeedUsers(ctx, st, issuer.DefaultUsers()); err != nil {
		tb.Fatal(err)
	}
	srv, err := issuer.New(ctx, issuer.Config{PublicURL: "http://issuer.test", Store: st, AdminToken: adminToken,
		InternalSecret: secret, GCInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tg := &target{handler: srv.Handler(), store: st, user: "alice"}
	rec := tg.serve(http.MethodPost, "/__admin/tokens", ctJSON, []byte(`{"user":"alice"}`), "Authorization", "Bearer "+adminToken)
	var toks map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &toks)
	tg.accessToken, _ = toks["access_token"].(string)
	tg.refreshToken, _ = toks["refresh_token"].(string)
	if rec.Code != 200 || tg.accessToken == "" || tg.refreshToken == "" {
		tb.Fatalf("mint tokens: %d %s", rec.Code, rec.Body)
	}
	return tg
}

func (tg *target) serve(method, path, ct string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	tg.handler.ServeHTTP(rec, req)
	return rec
}

// refusal asserts the shape of every refusal — a JSON object whose error is
// a string from codes, Cache-Control: no-store, never a 5xx — and returns the
// code.
func refusal(t *testing.T, what string, rec *httptest.ResponseRecorder, codes ...string) string {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d with Content-Type %q", what, rec.Code, ct)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: %d without Cache-Control: no-store", what, rec.Code)
	}
	var body struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == nil {
		t.Fatalf("%s: %d with a body that is not an OAuth error object: %s", what, rec.Code, rec.Body)
	}
	if !slices.Contains(codes, *body.Error) {
		t.Fatalf("%s: %d error %q, not one of %v", what, rec.Code, *body.Error, codes)
	}
	return *body.Error
}

// otherEncoding is the same fields in the other encoding, when body parses.
func otherEncoding(ct string, body []byte) (string, []byte, bool) {
	f, err := input.ParseBody(ct, body, input.Both)
	if err != nil {
		return "", nil, false
	}
	if f.IsJSON {
		v := url.Values{}
		for k, s := range f.Values {
			v.Set(k, s)
		}
		return ctForm, []byte(v.Encode()), true
	}
	b, _ := json.Marshal(f.Values)
	return ctJSON, b, true
}

// post sends body to path, checks the status with ok and every refusal's
// shape, then sends the same fields in the other encoding, which must get the
// same status and error code.
func (tg *target) post(t *testing.T, path, ct string, body []byte, ok func(status int) bool, codes []string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	rec := tg.serve(http.MethodPost, path, ct, body, hdr...)
	code := ""
	if rec.Code != 200 {
		code = refusal(t, path+" "+ct, rec, codes...)
	}
	if !ok(rec.Code) {
		t.Fatalf("%s %s: status %d: %s", path, ct, rec.Code, rec.Body)
	}
	if ct2, body2, parsed := otherEncoding(ct, body); parsed && rec.Code != 200 {
		rec2 := tg.serve(http.MethodPost, path, ct2, body2, hdr...)
		code2 := ""
		if rec2.Code != 200 {
			code2 = refusal(t, path+" "+ct2, rec2, codes...)
		}
		if rec2.Code != rec.Code || code2 != code {
			t.Fatalf("%s: the same fields get %d %s as %s and %d %s as %s", path, rec.Code, code, ct, rec2.Code, code2, ct2)
		}
	}
	return rec
}

// assertTokensLive: the signed-in user's refresh token is neither revoked
// nor rotated.
func (tg *target) assertTokensLive(t *testing.T) {
	t.Helper()
	rt, fam, err := tg.store.GetRefreshToken(context.Background(), store.Hash(tg.refreshToken))
	if err != nil || fam.Revoked() || !rt.RotatedAt.IsZero() {
		t.Fatalf("a request that did not name the user's refresh token changed it: %+v %+v %v", rt, fam, err)
	}
}

// namesLiveToken: the input carries one of the signed-in user's tokens
// (only possible through a seed), which may legitimately change them.
func (tg *target) namesLiveToken(body []byte) bool {
	return bytes.Contains(body, []byte(tg.refreshToken)) || bytes.Contains(body, []byte(tg.accessToken))
}

var requestSeeds = []struct{ ct, body string }{
	{ctJSON, `{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_reason":"proactive_expiry","refresh_token":"rt_x"}`},
	{ctForm, "grant_type=authorization_code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&code=ac_x&redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback&code_verifier=v"},
	{ctJSON, `{"grant_type":"refresh_token","refresh_token":"a","refresh_token":"b"}`},
	{ctForm, "grant_type=refresh_token&grant_type=refresh_token"},
	{ctJSON, `{"grant_type":"refresh_token","refresh_token":5}`},
	{ctJSON, `{"grant_type":["refresh_token"],"refresh_token":{"a":1}}`},
	{ctJSON, `{"grant_type":null,"refresh_token":true}`},
	{ctJSON, `{"grant_type":"refresh_token"} {}`},
	{ctJSON + "; charset=utf-8", `{"token":"x","token_type_hint":"refresh_token"}`},
	{ctForm, "token=%zz&a=%"},
	{"text/plain", "grant_type=refresh_token"},
	{"", ""},
	{ctJSON, `{"device_auth_id":"deviceauth_x","user_code":"BCDF-GHJK"}`},
	{ctForm, "device_auth_id=deviceauth_x&user_code=bcdf+ghjk"},
	{ctJSON, `{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann"}`},
	{ctForm, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&client_id=app_EMoamEEZ73f0CkXaXp7hrann&requested_token=openai-api-key&subject_token=a.b.c&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"},
	{ctForm, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c&federation_rule_id=r"},
	{ctJSON, `{"grant_type":"authorization_code","client_id":"app_EMoamEEZ73f0CkXaXp7hrann","code":"ac_x","redirect_uri":"http://127.0.0.1:1455/auth/callback","code_verifier":"` + strings.Repeat("v", 43) + `"}`},
}

// FuzzTokenEndpoint: POST /oauth/token with any body is never a 5xx and
// never a token (no fuzzed input holds a code, refresh token or assertion
// this issuer issued), always the documented error object; JSON and form
// agree; the signed-in user's tokens are untouched.
func FuzzTokenEndpoint(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add(s.ct, []byte(s.body))
	}
	tg := newTarget(f)
	codes := []string{"invalid_request", "invalid_grant", "invalid_client", "unsupported_grant_type", "invalid_target", "unauthorized_client"}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		tg.post(t, "/oauth/token", ct, body, func(st int) bool { return st >= 400 && st < 500 }, codes)
		tg.assertTokensLive(t)
	})
}

// FuzzRevokeEndpoint: POST /oauth/revoke (RFC 7009): 200 for a token it does
// not know (§2.2), the documented error object otherwise, JSON and form
// agree, and the signed-in user's family survives every request that does
// not name its tokens.
func FuzzRevokeEndpoint(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add(s.ct, []byte(s.body))
	}
	f.Add(ctJSON, []byte(`{"token":"rt_unknown","token_type_hint":"refresh_token","client_id":"app_EMoamEEZ73f0CkXaXp7hrann"}`))
	f.Add(ctForm, []byte("token=eyJhbGciOiJSUzI1NiJ9.e30.sig&token_type_hint=access_token"))
	tg := newTarget(f)
	codes := []string{"invalid_request", "invalid_client", "unsupported_token_type", "unauthorized_client"}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		if tg.namesLiveToken(body) {
			return
		}
		tg.post(t, "/oauth/revoke", ct, body, func(st int) bool { return st == 200 || st >= 400 && st < 500 }, codes)
		tg.assertTokensLive(t)
	})
}

// FuzzDeviceEndpoints: the device-code request and poll (contract §4) with
// any body. A code goes only to a registered client, with interval a string
// (§4.1); a poll for an id nobody issued is a 400 — never 403 or 404, on
// which codex would keep polling for 15 minutes (§4.2).
func FuzzDeviceEndpoints(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add(false, s.ct, []byte(s.body))
		f.Add(true, s.ct, []byte(s.body))
	}
	tg := newTarget(f)
	f.Fuzz(func(t *testing.T, poll bool, ct string, body []byte) {
		if poll {
			tg.post(t, "/api/accounts/deviceauth/token", ct, body,
				func(st int) bool { return st >= 400 && st < 500 && st != 403 && st != 404 }, []string{"invalid_request", "invalid_grant"})
			return
		}
		rec := tg.post(t, "/api/accounts/deviceauth/usercode", ct, body,
			func(st int) bool { return st == 200 || st >= 400 && st < 500 }, []string{"invalid_request", "invalid_client"})
		if rec.Code != 200 {
			return
		}
		fields, _ := input.ParseBody(ct, body, input.Both)
		if fields.Values["client_id"] != issuer.CodexClientID {
			t.Fatalf("a device code for client %q", fields.Values["client_id"])
		}
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		id, _ := m["device_auth_id"].(string)
		code, _ := m["user_code"].(string)
		if _, isStr := m["interval"].(string); !isStr || id == "" || code == "" {
			t.Fatalf("device code answer codex cannot read: %s", rec.Body)
		}
		// Its first poll is pending: 403, which codex retries.
		first := tg.serve(http.MethodPost, "/api/accounts/deviceauth/token", ctJSON, []byte(`{"device_auth_id":"`+id+`","user_code":"`+code+`"}`))
		if first.Code != 403 {
			t.Fatalf("first poll of a fresh device code: %d %s", first.Code, first.Body)
		}
	})
}

// FuzzValidateEndpoint: POST /internal/codex-auth/validate with any body.
// Without the secret every body is 401 invalid_secret; with it, a 200 only
// ever names the signed-in user, for a body that carries that user's live
// access token ("$ACCESS" in a seed stands for it).
func FuzzValidateEndpoint(f *testing.F) {
	for _, b := range []string{
		`{"scheme":"bearer","token":"$ACCESS"}`,
		`{"scheme":"bearer","token":"$ACCESS","account_id":"acct_other"}`,
		`{"scheme":"bearer","token":"$ACCESS","token":"$ACCESS"}`,
		`{"scheme":"agent_assertion","assertion":"eyJ9.e30.x"}`,
		`{"scheme":"agent_assertion","assertion":"AgentAssertion eyJhbGciOiJFZERTQSJ9"}`,
		`{"scheme":"bearer","token":"a.b.c"}`,
		`{"scheme":"basic"}`,
		`{"scheme":"bearer","token":5}`,
		`{}`, `[]`, `{"scheme":"bearer","token":"$ACCESS"`,
	} {
		f.Add(true, ctJSON, []byte(b))
		f.Add(false, ctJSON, []byte(b))
	}
	f.Add(true, ctForm, []byte("scheme=bearer&token=$ACCESS"))
	tg := newTarget(f)
	u, err := tg.store.GetUser(context.Background(), tg.user)
	if err != nil {
		f.Fatal(err)
	}
	// Validate's reason codes (validate.go, agent.go).
	codes := []string{"invalid_request", "invalid_secret", "invalid_token", "token_expired", "token_revoked", "account_mismatch",
		"assertion_stale", "malformed", "invalid_signature", "replayed", "unknown_agent", "agent_revoked",
		"agent_expired", "timestamp_out_of_range", "unknown_task", "task_agent_mismatch"}
	f.Fuzz(func(t *testing.T, withSecret bool, ct string, body []byte) {
		body = bytes.ReplaceAll(body, []byte("$ACCESS"), []byte(tg.accessToken))
		if !withSecret {
			rec := tg.serve(http.MethodPost, "/internal/codex-auth/validate", ct, body, "X-Internal-Secret", secret[:len(secret)-1])
			if code := refusal(t, "validate with a wrong secret", rec, codes...); rec.Code != 401 || code != "invalid_secret" {
				t.Fatalf("validate with a wrong secret: %d %s", rec.Code, code)
			}
			return
		}
		rec := tg.serve(http.MethodPost, "/internal/codex-auth/validate", ct, body, "X-Internal-Secret", secret)
		if rec.Code != 200 {
			refusal(t, "validate", rec, codes...)
			if rec.Code < 400 || rec.Code >= 500 {
				t.Fatalf("validate: %d %s", rec.Code, rec.Body)
			}
			return
		}
		var res issuer.ValidateResult
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || res.Scheme != "bearer" {
			t.Fatalf("validate success codex gateways cannot read: %s", rec.Body)
		}
		if !bytes.Contains(body, []byte(tg.accessToken)) {
			t.Fatalf("validate accepted a body without the live access token: %q → %s", body, rec.Body)
		}
		if res.UserID != u.ID {
			t.Fatalf("validate names %q, the token belongs to %q", res.UserID, u.ID)
		}
	})
}
