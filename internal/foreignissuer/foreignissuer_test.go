package foreignissuer

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// These tests drive the fixture over HTTP with plain net/http, so it is
// known to be right independently of the conformance harness.

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func start(t *testing.T, o Options) (*Issuer, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Now().Truncate(time.Second)}
	o.now = clk.Now
	iss, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	return iss, clk
}

type answer struct {
	status int
	header http.Header
	raw    string
	json   map[string]any
}

func (a answer) str(k string) string { s, _ := a.json[k].(string); return s }

// errorCode reads the error code the way codex does (§6.5).
func (a answer) errorCode() string {
	if m, ok := a.json["error"].(map[string]any); ok {
		s, _ := m["code"].(string)
		return s
	}
	return a.str("error")
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, method, u, contentType, body string, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, raw: string(b)}
	_ = json.Unmarshal(b, &a.json)
	return a
}

func postJSON(t *testing.T, u string, v any, hdr map[string]string) answer {
	t.Helper()
	b, _ := json.Marshal(v)
	return do(t, "POST", u, "application/json", string(b), hdr)
}

func postForm(t *testing.T, u string, kv ...string) answer {
	t.Helper()
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return do(t, "POST", u, "application/x-www-form-urlencoded", f.Encode(), nil)
}

func get(t *testing.T, u string, hdr map[string]string) answer {
	t.Helper()
	return do(t, "GET", u, "", "", hdr)
}

func want(t *testing.T, a answer, status int, what string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: got %d %s, want %d", what, a.status, a.raw, status)
	}
}

type tokens struct{ id, access, refresh string }

func tokensOf(t *testing.T, a answer) tokens {
	t.Helper()
	tk := tokens{a.str("id_token"), a.str("access_token"), a.str("refresh_token")}
	if tk.id == "" || tk.access == "" || tk.refresh == "" {
		t.Fatalf("token answer lacks a token: %s", a.raw)
	}
	return tk
}

// deviceGrant runs codex's device flow up to the granted poll (§4).
func deviceGrant(t *testing.T, iss *Issuer) (id, userCode string, grant answer) {
	t.Helper()
	uc := postJSON(t, iss.URL+"/api/accounts/deviceauth/usercode", map[string]string{"client_id": CodexClientID}, nil)
	want(t, uc, 200, "usercode")
	if uc.json["interval"] != "1" {
		t.Fatalf("interval must be the JSON string \"1\": %s", uc.raw)
	}
	id, userCode = uc.str("device_auth_id"), uc.str("user_code")
	poll := map[string]string{"device_auth_id": id, "user_code": userCode}
	want(t, postJSON(t, iss.URL+"/api/accounts/deviceauth/token", poll, nil), 403, "first poll (pending)")
	grant = postJSON(t, iss.URL+"/api/accounts/deviceauth/token", poll, nil)
	want(t, grant, 200, "second poll (approved)")
	return id, userCode, grant
}

func exchange(t *testing.T, iss *Issuer, code, redirect, verifier string) answer {
	t.Helper()
	return postForm(t, iss.URL+"/oauth/token", "grant_type", "authorization_code", "client_id", CodexClientID,
		"code", code, "redirect_uri", redirect, "code_verifier", verifier)
}

func deviceLogin(t *testing.T, iss *Issuer) tokens {
	t.Helper()
	_, _, g := deviceGrant(t, iss)
	a := exchange(t, iss, g.str("authorization_code"), iss.URL+"/deviceauth/callback", g.str("code_verifier"))
	want(t, a, 200, "device code exchange")
	return tokensOf(t, a)
}

func refreshJSON(t *testing.T, iss *Issuer, rt string) answer {
	t.Helper()
	return postJSON(t, iss.RefreshURL(), map[string]string{"client_id": CodexClientID, "grant_type": "refresh_token",
		"refresh_reason": "proactive_expiry", "refresh_token": rt}, map[string]string{"originator": "codex_cli_rs"})
}

func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a three-part JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload is not unpadded base64url: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// jwksKey fetches a JWK Set and returns its single key.
func jwksKey(t *testing.T, u string) jose.JSONWebKey {
	t.Helper()
	a := get(t, u, nil)
	want(t, a, 200, "JWKS "+u)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(a.raw), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v %s", u, err, a.raw)
	}
	k := set.Keys[0]
	if k.KeyID == "" || k.Use != "sig" || k.Key.(*rsa.PublicKey).N.BitLen() != 2048 {
		t.Fatalf("JWKS key: kid %q use %q", k.KeyID, k.Use)
	}
	return k
}

// checkTokenShape applies codex's parsing (§5) and verifies the RS256 signature.
func checkTokenShape(t *testing.T, iss *Issuer, tk tokens) {
	t.Helper()
	key := jwksKey(t, iss.URL+"/.well-known/jwks.json")
	for name, raw := range map[string]string{"id_token": tk.id, "access_token": tk.access} {
		sig, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil || sig.Signatures[0].Header.KeyID != key.KeyID {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := sig.Verify(key.Key); err != nil {
			t.Fatalf("%s signature: %v", name, err)
		}
		c := payload(t, raw)
		for _, k := range []string{"iat", "exp"} {
			if _, err := c[k].(json.Number).Int64(); err != nil {
				t.Fatalf("%s %s is not an integer: %v", name, k, c[k])
			}
		}
		if c["iss"] != iss.URL {
			t.Fatalf("%s iss %v", name, c["iss"])
		}
		auth := c["https://api.openai.com/auth"].(map[string]any)
		for _, k := range []string{"chatgpt_account_id", "chatgpt_user_id", "user_id", "chatgpt_plan_type"} {
			if s, _ := auth[k].(string); s == "" {
				t.Fatalf("%s auth.%s is not a string: %v", name, k, auth[k])
			}
		}
		if _, ok := auth["chatgpt_account_is_fedramp"].(bool); !ok {
			t.Fatalf("%s fedramp flag is not a boolean", name)
		}
		if e, _ := c["https://api.openai.com/profile"].(map[string]any)["email"].(string); e != alice.email {
			t.Fatalf("%s profile email %q", name, e)
		}
	}
	at := payload(t, tk.access)
	exp, _ := at["exp"].(json.Number).Int64()
	iat, _ := at["iat"].(json.Number).Int64()
	if exp-iat != 3600 {
		t.Fatalf("access lifetime %d s, want 3600", exp-iat)
	}
}

func TestDiscoveryJWKSAndHealth(t *testing.T) {
	iss, _ := start(t, Options{})
	d := get(t, iss.URL+"/.well-known/openid-configuration", nil)
	want(t, d, 200, "discovery")
	if d.str("issuer") != iss.URL || d.str("revocation_endpoint") != iss.URL+"/oauth/revoke" || d.str("token_endpoint") != iss.URL+"/oauth/token" {
		t.Fatalf("discovery: %s", d.raw)
	}
	if m := d.json["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
		t.Fatalf("code_challenge_methods_supported %v", m)
	}
	jwksKey(t, d.str("jwks_uri"))
	agentKey := jwksKey(t, iss.ChatGPTBaseURL()+"/wham/agent-identities/jwks")
	if other := jwksKey(t, iss.URL+"/agent-identities/jwks"); other.KeyID != agentKey.KeyID {
		t.Fatal("the two agent JWKS locations publish different keys")
	}
	want(t, get(t, iss.URL+"/healthz", nil), 200, "healthz")
	want(t, get(t, iss.URL+"/__admin/state", nil), 404, "admin API")
	want(t, get(t, iss.URL+"/codex/device", nil), 200, "verification page")
}

func TestDeviceLogin(t *testing.T) {
	iss, _ := start(t, Options{})
	id, userCode, g := deviceGrant(t, iss)
	if g.str("code_challenge") != s256(g.str("code_verifier")) {
		t.Fatal("code_challenge is not S256 of code_verifier")
	}
	poll := iss.URL + "/api/accounts/deviceauth/token"
	want(t, postJSON(t, poll, map[string]string{"device_auth_id": id, "user_code": userCode}, nil), 400, "a poll after the grant")
	want(t, postJSON(t, poll, map[string]string{"device_auth_id": "dev_unknown", "user_code": userCode}, nil), 400, "an unknown id")
	want(t, do(t, "POST", poll, "application/json", "{", nil), 400, "a malformed poll")

	// A mismatched user code is refused and does not count as the first poll.
	uc := postJSON(t, iss.URL+"/api/accounts/deviceauth/usercode", map[string]string{"client_id": CodexClientID}, nil)
	want(t, postJSON(t, poll, map[string]string{"device_auth_id": uc.str("device_auth_id"), "user_code": "ZZZZ-ZZZZ"}, nil), 400, "a mismatched user_code")
	want(t, postJSON(t, poll, map[string]string{"device_auth_id": uc.str("device_auth_id"), "user_code": uc.str("user_code")}, nil), 403, "the first real poll")
	want(t, postJSON(t, iss.URL+"/api/accounts/deviceauth/usercode", map[string]string{"client_id": "app_other"}, nil), 400, "an unknown client")

	cb := iss.URL + "/deviceauth/callback"
	code := g.str("authorization_code")
	want(t, exchange(t, iss, code, cb, "wrong-"+g.str("code_verifier")), 400, "a wrong verifier")

	_, _, g = deviceGrant(t, iss)
	code = g.str("authorization_code")
	want(t, exchange(t, iss, code, "http://127.0.0.1:1455/auth/callback", g.str("code_verifier")), 400, "another redirect_uri")
	_, _, g = deviceGrant(t, iss)
	a := exchange(t, iss, g.str("authorization_code"), cb, g.str("code_verifier"))
	want(t, a, 200, "the exchange")
	tk := tokensOf(t, a)
	checkTokenShape(t, iss, tk)
	want(t, exchange(t, iss, g.str("authorization_code"), cb, g.str("code_verifier")), 400, "a second redemption")
	// The second redemption revoked what the first issued (RFC 6749 §4.1.2).
	if r := refreshJSON(t, iss, tk.refresh); r.errorCode() != "refresh_token_invalidated" {
		t.Fatalf("refresh after a replayed code: %s", r.raw)
	}
}

func authorizeURL(iss *Issuer, clientID, redirect, challenge, method string, extra ...string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "code_challenge": {challenge},
		"code_challenge_method": {method}, "state": {"st4te-value"}, "scope": {"openid profile email offline_access"},
		"id_token_add_organizations": {"true"}, "codex_cli_simplified_flow": {"true"}, "originator": {"codex_cli_rs"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return iss.URL + "/oauth/authorize?" + q.Encode()
}

func TestBrowserLogin(t *testing.T) {
	iss, _ := start(t, Options{})
	verifier := randomID(64)
	challenge := s256(verifier)
	for _, redirect := range []string{"http://127.0.0.1:1455/auth/callback", "http://127.0.0.1:1457/auth/callback",
		"http://localhost:1455/auth/callback", "http://localhost:1457/auth/callback"} {
		a := get(t, authorizeURL(iss, CodexClientID, redirect, challenge, "S256", "login_hint", "alice", "allowed_workspace_id", "a,b"), nil)
		want(t, a, 302, "authorize "+redirect)
		loc, _ := url.Parse(a.header.Get("Location"))
		if !strings.HasPrefix(loc.String(), redirect+"?") || loc.Query().Get("state") != "st4te-value" || loc.Query().Get("code") == "" {
			t.Fatalf("redirect %s", loc)
		}
	}
	for what, u := range map[string]string{
		"an unregistered redirect_uri": authorizeURL(iss, CodexClientID, "http://127.0.0.1:9/auth/callback", challenge, "S256"),
		"an unknown client_id":         authorizeURL(iss, "app_evil", "http://127.0.0.1:1455/auth/callback", challenge, "S256"),
	} {
		a := get(t, u, nil)
		want(t, a, 400, what)
		if a.header.Get("Location") != "" || !strings.Contains(a.header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: redirected or no page", what)
		}
	}
	plain := get(t, authorizeURL(iss, CodexClientID, "http://127.0.0.1:1455/auth/callback", verifier[:43], "plain"), nil)
	if loc, _ := url.Parse(plain.header.Get("Location")); plain.status != 302 || loc.Query().Get("code") != "" || loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("plain PKCE: %d %s", plain.status, plain.header.Get("Location"))
	}

	redirect := "http://127.0.0.1:1455/auth/callback"
	codeFor := func() string {
		loc, _ := url.Parse(get(t, authorizeURL(iss, CodexClientID, redirect, challenge, "S256"), nil).header.Get("Location"))
		return loc.Query().Get("code")
	}
	want(t, exchange(t, iss, codeFor(), "http://127.0.0.1:1457/auth/callback", verifier), 400, "another redirect_uri")
	want(t, exchange(t, iss, codeFor(), redirect, randomID(64)), 400, "a wrong verifier")
	code := codeFor()
	a := exchange(t, iss, code, redirect, verifier)
	want(t, a, 200, "the code exchange")
	tk := tokensOf(t, a)
	checkTokenShape(t, iss, tk)
	want(t, exchange(t, iss, code, redirect, verifier), 400, "a second redemption")

	key := postForm(t, iss.URL+"/oauth/token", "grant_type", grantTokenExchange, "client_id", CodexClientID,
		"requested_token", "openai-api-key", "subject_token", tk.id, "subject_token_type", idTokenType)
	want(t, key, 200, "API key exchange")
	if !strings.HasPrefix(key.str("access_token"), "sk-") {
		t.Fatalf("API key: %s", key.raw)
	}
	want(t, postForm(t, iss.URL+"/oauth/token", "grant_type", grantTokenExchange, "client_id", CodexClientID,
		"requested_token", "openai-api-key", "subject_token", tk.access, "subject_token_type", idTokenType), 400, "an access token as subject")
}

func TestAnyClientIDDefect(t *testing.T) {
	iss, _ := start(t, Options{AnyClientID: true})
	a := get(t, authorizeURL(iss, "app_evil", "http://127.0.0.1:1455/auth/callback", s256(randomID(64)), "S256"), nil)
	if loc, _ := url.Parse(a.header.Get("Location")); a.status != 302 || loc.Query().Get("code") == "" {
		t.Fatalf("the defect hands no code to an unknown client: %d %s", a.status, a.raw)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	iss, _ := start(t, Options{})
	for _, b := range []struct{ ct, body string }{
		{"application/json", `{"grant_type":`}, {"application/json", `[]`}, {"application/json", `{"grant_type":"refresh_token","refresh_token":5}`},
		{"application/x-www-form-urlencoded", "grant_type=%zz"}, {"application/x-www-form-urlencoded", ""}, {"text/plain", "grant_type=refresh_token"},
	} {
		a := do(t, "POST", iss.URL+"/oauth/token", b.ct, b.body, nil)
		if a.status < 400 || a.status >= 500 || a.str("error") == "" {
			t.Fatalf("%q as %s: %d %s", b.body, b.ct, a.status, a.raw)
		}
	}
	a := postForm(t, iss.URL+"/oauth/token", "grant_type", "password", "username", "alice")
	if a.status != 400 || a.str("error") != "unsupported_grant_type" {
		t.Fatalf("password grant: %d %s", a.status, a.raw)
	}
	unknown := refreshJSON(t, iss, "rt_unknown")
	if unknown.status != 401 || unknown.str("error") != "invalid_grant" {
		t.Fatalf("unknown refresh token: %d %s", unknown.status, unknown.raw)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	iss, _ := start(t, Options{})
	tk := deviceLogin(t, iss)
	r := refreshJSON(t, iss, tk.refresh)
	want(t, r, 200, "JSON refresh with refresh_reason")
	child := tokensOf(t, r)
	if child.refresh == tk.refresh {
		t.Fatal("refresh did not rotate")
	}
	checkTokenShape(t, iss, child)
	form := postForm(t, iss.URL+"/oauth/token", "grant_type", "refresh_token", "client_id", CodexClientID, "refresh_token", child.refresh)
	want(t, form, 200, "form refresh")
	newest := tokensOf(t, form).refresh

	reused := refreshJSON(t, iss, tk.refresh)
	if reused.status != 401 || reused.errorCode() != "refresh_token_reused" {
		t.Fatalf("reuse: %d %s", reused.status, reused.raw)
	}
	if r := refreshJSON(t, iss, newest); r.status != 401 || r.errorCode() != "refresh_token_invalidated" {
		t.Fatalf("newest token after reuse: %d %s", r.status, r.raw)
	}
}

func TestGraceWindow(t *testing.T) {
	iss, clk := start(t, Options{GraceWindow: 2 * time.Second})
	tk := deviceLogin(t, iss)
	first := tokensOf(t, refreshJSON(t, iss, tk.refresh))
	again := refreshJSON(t, iss, tk.refresh)
	want(t, again, 200, "a re-presented parent within the grace window")
	if tokensOf(t, again) != first {
		t.Fatal("the grace replay forked the family")
	}
	clk.Advance(3 * time.Second)
	if r := refreshJSON(t, iss, tk.refresh); r.errorCode() != "refresh_token_reused" {
		t.Fatalf("after the grace window: %s", r.raw)
	}
	if r := refreshJSON(t, iss, first.refresh); r.errorCode() != "refresh_token_invalidated" {
		t.Fatalf("the successor after reuse: %s", r.raw)
	}

	// Within the window, a parent whose successor already rotated is reuse.
	tk = deviceLogin(t, iss)
	c1 := tokensOf(t, refreshJSON(t, iss, tk.refresh))
	tokensOf(t, refreshJSON(t, iss, c1.refresh))
	if r := refreshJSON(t, iss, tk.refresh); r.errorCode() != "refresh_token_reused" {
		t.Fatalf("a grandparent within the window: %s", r.raw)
	}
}

func TestConcurrentRefreshNeverForks(t *testing.T) {
	for _, grace := range []time.Duration{0, 2 * time.Second} {
		iss, _ := start(t, Options{GraceWindow: grace})
		tk := deviceLogin(t, iss)
		var wg sync.WaitGroup
		answers := make([]answer, 16)
		for i := range answers {
			wg.Add(1)
			go func() { defer wg.Done(); answers[i] = refreshJSON(t, iss, tk.refresh) }()
		}
		wg.Wait()
		children := map[string]bool{}
		for _, a := range answers {
			if a.status == 200 {
				children[a.str("refresh_token")] = true
			}
		}
		if len(children) != 1 {
			t.Fatalf("grace %s: %d successors", grace, len(children))
		}
		for c := range children {
			live := refreshJSON(t, iss, c).status == 200
			if live != (grace > 0) { // without a window the losers' reuse revoked the family
				t.Fatalf("grace %s: successor live = %v", grace, live)
			}
		}
	}
}

func validate(t *testing.T, iss *Issuer, secret string, body map[string]string) answer {
	t.Helper()
	return postJSON(t, iss.ValidateURL(), body, map[string]string{"X-Internal-Secret": secret})
}

func TestRevocation(t *testing.T) {
	iss, _ := start(t, Options{})
	tk := deviceLogin(t, iss)
	bearer := map[string]string{"scheme": "bearer", "token": tk.access}
	want(t, validate(t, iss, iss.InternalSecret, bearer), 200, "a live access token")
	want(t, postJSON(t, iss.RevokeURL(), map[string]string{"token": tk.refresh, "token_type_hint": "refresh_token", "client_id": CodexClientID}, nil), 200, "JSON revoke")
	if r := refreshJSON(t, iss, tk.refresh); r.status != 401 || r.errorCode() != "refresh_token_invalidated" {
		t.Fatalf("revoked token: %d %s", r.status, r.raw)
	}
	if v := validate(t, iss, iss.InternalSecret, bearer); v.status != 401 || v.str("error") != "token_revoked" {
		t.Fatalf("access token of a revoked family: %d %s", v.status, v.raw)
	}
	want(t, postJSON(t, iss.RevokeURL(), map[string]string{"token": "rt_unknown"}, nil), 200, "an unknown token")
	want(t, postJSON(t, iss.RevokeURL(), map[string]string{}, nil), 400, "no token")

	// Form encoding, and revoking a rotated-out token ends the newest one too.
	tk = deviceLogin(t, iss)
	newest := tokensOf(t, refreshJSON(t, iss, tk.refresh)).refresh
	want(t, postForm(t, iss.RevokeURL(), "token", tk.refresh, "token_type_hint", "refresh_token"), 200, "form revoke")
	if r := refreshJSON(t, iss, newest); r.status != 401 {
		t.Fatalf("newest token of a revoked family: %s", r.raw)
	}

	// Revoking an access token (codex: hint access_token, no client_id).
	tk = deviceLogin(t, iss)
	want(t, postJSON(t, iss.RevokeURL(), map[string]string{"token": tk.access, "token_type_hint": "access_token"}, nil), 200, "access-token revoke")
	want(t, validate(t, iss, iss.InternalSecret, map[string]string{"scheme": "bearer", "token": tk.access}), 401, "a revoked access token")
	want(t, refreshJSON(t, iss, tk.refresh), 200, "the refresh token after its access token was revoked")
}

func TestValidateBearerRefusesForgeries(t *testing.T) {
	iss, clk := start(t, Options{})
	tk := deviceLogin(t, iss)
	ok := validate(t, iss, iss.InternalSecret, map[string]string{"scheme": "bearer", "token": tk.access, "account_id": alice.accountID})
	want(t, ok, 200, "a live token")
	if ok.str("user_id") != alice.id {
		t.Fatalf("user_id: %s", ok.raw)
	}
	for _, secret := range []string{"", "wrong", iss.InternalSecret + "x"} {
		if v := validate(t, iss, secret, map[string]string{"scheme": "bearer", "token": tk.access}); v.status != 401 || v.str("error") != "invalid_secret" {
			t.Fatalf("secret %q: %d %s", secret, v.status, v.raw)
		}
	}
	parts := strings.Split(tk.access, ".")
	key := jwksKey(t, iss.URL+"/.well-known/jwks.json")
	pub, _ := x509.MarshalPKIXPublicKey(key.Key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	hs256 := func(secret []byte) string {
		head := seg(map[string]string{"alg": "HS256", "typ": "JWT", "kid": key.KeyID})
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(head + "." + parts[1]))
		return head + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	claims := payload(t, tk.access)
	claims["https://api.openai.com/auth"].(map[string]any)["chatgpt_user_id"] = "user-mallory"
	forged := map[string]string{
		"alg none":                 seg(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + ".",
		"HS256 keyed with the PEM": hs256(pemKey),
		"HS256 keyed with the DER": hs256(pub),
		"HS256 keyed with n":       hs256(key.Key.(*rsa.PublicKey).N.Bytes()),
		"a tampered payload":       parts[0] + "." + seg(claims) + "." + parts[2],
		"an id_token":              tk.id,
		"garbage":                  "a.b.c",
	}
	for what, tok := range forged {
		if v := validate(t, iss, iss.InternalSecret, map[string]string{"scheme": "bearer", "token": tok}); v.status != 401 {
			t.Fatalf("%s: %d %s", what, v.status, v.raw)
		}
	}
	if v := validate(t, iss, iss.InternalSecret, map[string]string{"scheme": "bearer", "token": tk.access, "account_id": "acct_other"}); v.str("error") != "account_mismatch" {
		t.Fatalf("another account: %s", v.raw)
	}
	for _, body := range []string{`{}`, `{"scheme":"bogus"}`, `[`, `{"scheme":"agent_assertion","assertion":"%%%"}`, `{"scheme":"agent_assertion","assertion":"e30"}`} {
		if v := do(t, "POST", iss.ValidateURL(), "application/json", body, map[string]string{"X-Internal-Secret": iss.InternalSecret}); v.status != 400 {
			t.Fatalf("%s: %d %s", body, v.status, v.raw)
		}
	}
	clk.Advance(2 * time.Hour)
	if v := validate(t, iss, iss.InternalSecret, map[string]string{"scheme": "bearer", "token": tk.access}); v.str("error") != "token_expired" {
		t.Fatalf("an expired token: %s", v.raw)
	}
}

// agentOf decodes an identity as codex does (§8.1) and returns its
// runtime id and private key.
func agentOf(t *testing.T, iss *Issuer, raw string) (string, ed25519.PrivateKey) {
	t.Helper()
	key := jwksKey(t, iss.ChatGPTBaseURL()+"/wham/agent-identities/jwks")
	sig, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || sig.Signatures[0].Header.KeyID != key.KeyID {
		t.Fatalf("agent identity: %v", err)
	}
	if _, err := sig.Verify(key.Key); err != nil {
		t.Fatal(err)
	}
	c := payload(t, raw)
	if c["iss"] != agentIssuer || c["aud"] != agentAudience || c["account_id"] != alice.accountID || c["chatgpt_account_is_fedramp"] != false {
		t.Fatalf("agent identity claims: %v", c)
	}
	der, err := base64.StdEncoding.DecodeString(c["agent_private_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return c["agent_runtime_id"].(string), k.(ed25519.PrivateKey)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func register(t *testing.T, iss *Issuer, rid, ts string, key ed25519.PrivateKey) answer {
	t.Helper()
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(rid+":"+ts)))
	return postJSON(t, iss.AuthAPIBaseURL()+"/v1/agent/"+rid+"/task/register", map[string]string{"timestamp": ts, "signature": sig}, nil)
}

// assertion is codex's AgentAssertion (§8.3): sorted keys, unpadded base64url.
func assertion(rid, task, ts string, key ed25519.PrivateKey) string {
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(rid+":"+task+":"+ts)))
	b, _ := json.Marshal(map[string]string{"agent_runtime_id": rid, "signature": sig, "task_id": task, "timestamp": ts})
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestTaskRegistrationAndAssertions(t *testing.T) {
	iss, clk := start(t, Options{})
	raw1, _ := iss.MintAgentIdentity("alice")
	raw2, _ := iss.MintAgentIdentity("alice")
	rid, key := agentOf(t, iss, raw1)
	rid2, key2 := agentOf(t, iss, raw2)
	now := stamp(clk.Now())

	first := register(t, iss, rid, now, key)
	want(t, first, 200, "a registration")
	task := first.str("task_id")
	if again := register(t, iss, rid, now, key); again.str("task_id") != task {
		t.Fatalf("a byte-identical repeat got another task: %s", again.raw)
	}
	clk.Advance(time.Second)
	if other := register(t, iss, rid, stamp(clk.Now()), key); other.str("task_id") == task || other.status != 200 {
		t.Fatalf("a new registration: %s", other.raw)
	}
	_, stranger, _ := ed25519.GenerateKey(nil)
	for what, a := range map[string]answer{
		"another key":     register(t, iss, rid, stamp(clk.Now()), stranger),
		"10 minutes old":  register(t, iss, rid, stamp(clk.Now().Add(-10*time.Minute)), key),
		"10 minutes late": register(t, iss, rid, stamp(clk.Now().Add(10*time.Minute)), key),
		"an unknown agent": postJSON(t, iss.AuthAPIBaseURL()+"/v1/agent/agent_unknown/task/register",
			map[string]string{"timestamp": stamp(clk.Now()), "signature": "c2ln"}, nil),
	} {
		if a.status < 400 || a.status >= 500 {
			t.Fatalf("%s: %d %s", what, a.status, a.raw)
		}
	}
	task2 := register(t, iss, rid2, stamp(clk.Now()), key2).str("task_id")

	check := func(as string) answer {
		return validate(t, iss, iss.InternalSecret, map[string]string{"scheme": "agent_assertion", "assertion": as})
	}
	as := assertion(rid, task, stamp(clk.Now()), key)
	ok := check(as)
	want(t, ok, 200, "a fresh assertion")
	if ok.str("user_id") != alice.id {
		t.Fatalf("assertion user: %s", ok.raw)
	}
	if r := check(as); r.str("error") != "replayed" {
		t.Fatalf("a replay: %s", r.raw)
	}
	for what, a := range map[string]struct{ as, code string }{
		"another key":          {assertion(rid, task, stamp(clk.Now()), stranger), "invalid_signature"},
		"6 minutes old":        {assertion(rid, task, stamp(clk.Now().Add(-6*time.Minute)), key), "assertion_stale"},
		"another agent's task": {assertion(rid, task2, stamp(clk.Now()), key), "task_agent_mismatch"},
		"an unknown task":      {assertion(rid, "task_nope", stamp(clk.Now()), key), "unknown_task"},
	} {
		if r := check(a.as); r.status != 401 || r.str("error") != a.code {
			t.Fatalf("%s: %d %s", what, r.status, r.raw)
		}
	}
	want(t, check(assertion(rid2, task2, stamp(clk.Now()), key2)), 200, "the other agent's own task")
}

func TestPersonalAccessTokenAndAccountsCheck(t *testing.T) {
	iss, _ := start(t, Options{})
	w := get(t, iss.AuthAPIBaseURL()+"/v1/user-auth-credential/whoami", map[string]string{"Authorization": "Bearer " + iss.PersonalAccessToken()})
	want(t, w, 200, "whoami")
	if w.str("chatgpt_account_id") != alice.accountID || w.json["chatgpt_account_is_fedramp"] != false || w.str("chatgpt_plan_type") == "" {
		t.Fatalf("whoami: %s", w.raw)
	}
	want(t, get(t, iss.AuthAPIBaseURL()+"/v1/user-auth-credential/whoami", map[string]string{"Authorization": "Bearer at-unknown"}), 401, "an unknown PAT")
	tk := deviceLogin(t, iss)
	c := get(t, iss.ChatGPTBaseURL()+"/wham/accounts/check", map[string]string{"Authorization": "Bearer " + tk.access})
	want(t, c, 200, "accounts check")
	acct := c.json["accounts"].([]any)[0].(map[string]any)
	if acct["id"] != alice.accountID || !strings.HasPrefix(acct["workspace_backend_origin"].(string), "https://") {
		t.Fatalf("accounts check: %s", c.raw)
	}
}

func TestSplitLayout(t *testing.T) {
	iss, _ := start(t, Options{SplitLayout: true})
	tk := deviceLogin(t, iss)
	if iss.RefreshURL() != iss.URL+"/v2/token/refresh" || iss.AuthAPIBaseURL() != iss.URL+"/accounts-api" || iss.ChatGPTBaseURL() != iss.URL+"/chatgpt" {
		t.Fatal("split layout URLs")
	}
	r := refreshJSON(t, iss, tk.refresh)
	want(t, r, 200, "refresh at the moved URL")
	if a := postJSON(t, iss.URL+"/oauth/token", map[string]string{"grant_type": "refresh_token", "refresh_token": tokensOf(t, r).refresh}, nil); a.str("error") != "unsupported_grant_type" {
		t.Fatalf("refresh at /oauth/token: %s", a.raw)
	}
	want(t, postJSON(t, iss.RevokeURL(), map[string]string{"token": "x"}, nil), 200, "revoke at the moved URL")
	want(t, get(t, iss.ChatGPTBaseURL()+"/agent-identities/jwks", nil), 200, "JWKS under a base without /backend-api")
	want(t, get(t, iss.AuthAPIBaseURL()+"/v1/user-auth-credential/whoami", map[string]string{"Authorization": "Bearer " + iss.PersonalAccessToken()}), 200, "whoami")
	for _, p := range []string{"/oauth/revoke", "/backend-api/wham/agent-identities/jwks", "/api/accounts/v1/user-auth-credential/whoami", "/api/accounts/v1/agent/x/task/register"} {
		method := "GET"
		if strings.HasSuffix(p, "revoke") || strings.HasSuffix(p, "register") {
			method = "POST"
		}
		want(t, do(t, method, iss.URL+p, "application/json", "{}", nil), 404, "standard location "+p)
	}
	if d := get(t, iss.URL+"/.well-known/openid-configuration", nil); d.str("revocation_endpoint") != iss.RevokeURL() {
		t.Fatalf("discovery: %s", d.raw)
	}
}

func TestExtraFields(t *testing.T) {
	iss, _ := start(t, Options{ExtraFields: true})
	if d := get(t, iss.URL+"/.well-known/openid-configuration", nil); d.json["x_foreign_deployment"] == nil || d.json["x_request_id"] == nil {
		t.Fatalf("discovery without extras: %s", d.raw)
	}
	_, _, g := deviceGrant(t, iss)
	if g.json["x_trace"] == nil {
		t.Fatalf("poll answer without extras: %s", g.raw)
	}
	a := exchange(t, iss, g.str("authorization_code"), iss.URL+"/deviceauth/callback", g.str("code_verifier"))
	if _, ok := a.json["x_notice"]; !ok {
		t.Fatalf("token answer without extras: %s", a.raw)
	}
	tokensOf(t, a)
}

func TestRefreshFormOnlyOneCodeDefect(t *testing.T) {
	iss, _ := start(t, Options{RefreshFormOnlyOneCode: true})
	tk := deviceLogin(t, iss)
	want(t, refreshJSON(t, iss, tk.refresh), 415, "a JSON refresh")
	form := func(rt string) answer {
		return postForm(t, iss.URL+"/oauth/token", "grant_type", "refresh_token", "client_id", CodexClientID, "refresh_token", rt)
	}
	child := tokensOf(t, form(tk.refresh)).refresh
	for _, c := range []struct{ what, rt string }{{"reuse", tk.refresh}, {"the family revoked by it", child}, {"unknown", "rt_unknown"}} {
		if a := form(c.rt); a.status != 401 || a.str("error") != "refresh_token_expired" {
			t.Fatalf("%s: %d %s", c.what, a.status, a.raw)
		}
	}
}

func TestSameSecondTokensDefect(t *testing.T) {
	iss, _ := start(t, Options{SameSecondTokens: true}) // the fake clock stands still: one second
	deviceLogin(t, iss)
	_, _, g := deviceGrant(t, iss)
	cb := iss.URL + "/deviceauth/callback"
	a := exchange(t, iss, g.str("authorization_code"), cb, g.str("code_verifier"))
	if a.status != 500 || !strings.Contains(a.raw, "duplicate key") {
		t.Fatalf("the second same-second sign-in: %d %s", a.status, a.raw)
	}
	want(t, exchange(t, iss, g.str("authorization_code"), cb, g.str("code_verifier")), 400, "the consumed code")

	base, _ := start(t, Options{}) // conformant: two same-second sign-ins differ
	first, second := deviceLogin(t, base), deviceLogin(t, base)
	if first.access == second.access {
		t.Fatal("two sign-ins minted one access token")
	}
}

func TestTaskRegister404Defect(t *testing.T) {
	iss, _ := start(t, Options{TaskRegister404: true})
	rid, key := agentOf(t, iss, must(iss.MintAgentIdentity("alice")))
	want(t, register(t, iss, rid, stamp(time.Now()), key), 404, "registration")
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

func TestVariantsAndConformArgs(t *testing.T) {
	conformant, defective := 0, 0
	for _, v := range Variants {
		if v.Conformant != (len(v.RootCauses) == 0) {
			t.Errorf("%s: conformant variants name no root cause, defective ones do", v.Name)
		}
		if v.Conformant {
			conformant++
		} else {
			defective++
		}
	}
	if conformant < 6 || defective != 4 {
		t.Fatalf("%d conformant, %d defective variants", conformant, defective)
	}
	iss, _ := start(t, Options{SplitLayout: true})
	dir := t.TempDir()
	args, err := iss.ConformArgs(dir)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string][]string{}
	for i := 0; i+1 < len(args); i += 2 {
		flags[args[i]] = append(flags[args[i]], args[i+1])
	}
	if flags["--issuer"][0] != iss.URL || flags["--internal-secret"][0] != iss.InternalSecret || flags["--refresh-url"][0] != iss.RefreshURL() ||
		flags["--revoke-url"][0] != iss.RevokeURL() || flags["--authapi-base-url"][0] != iss.AuthAPIBaseURL() ||
		flags["--chatgpt-base-url"][0] != iss.ChatGPTBaseURL() || flags["--approver"][0] != "auto" || flags["--validate-url"][0] != iss.ValidateURL() {
		t.Fatalf("flags %v", args)
	}
	rids := map[string]bool{}
	for _, f := range flags["--agent-identity"] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rid, _ := agentOf(t, iss, strings.TrimSpace(string(b)))
		rids[rid] = true
	}
	if len(rids) != 2 {
		t.Fatalf("want two identities of two agents, got %v", rids)
	}
	if _, err := os.Stat(flags["--personal-access-token"][0]); err != nil {
		t.Fatal(err)
	}
}
