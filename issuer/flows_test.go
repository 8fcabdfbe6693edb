package issuer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/store/sqlstore"
)

func TestDeviceFlowPendingThenApproved(t *testing.T) {
	e := start(t, nil)
	uc := e.postJSON("/api/accounts/deviceauth/usercode", map[string]string{"client_id": issuer.CodexClientID})
	if uc.status != 200 {
		t.Fatalf("usercode: %d %s", uc.status, uc.body)
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(uc.body, &raw)
	if !strings.HasPrefix(string(raw["interval"]), `"`) {
		t.Fatalf("interval must be a JSON string, got %s", raw["interval"])
	}
	poll := map[string]string{"device_auth_id": uc.str("device_auth_id"), "user_code": uc.str("user_code")}
	wantError(t, e.postJSON("/api/accounts/deviceauth/token", poll), 403, "authorization_pending")
	if r := e.admin("POST", "/device/approve", map[string]string{"user_code": strings.ToLower(uc.str("user_code")), "user": "alice"}); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	got := e.postJSON("/api/accounts/deviceauth/token", poll)
	if got.status != 200 || s256(got.str("code_verifier")) != got.str("code_challenge") {
		t.Fatalf("poll after approval: %d %s", got.status, got.body)
	}
	// One-time: a second poll is refused with a status codex does not retry.
	wantError(t, e.postJSON("/api/accounts/deviceauth/token", poll), 400, "invalid_grant")
	tok := e.postForm("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {issuer.CodexClientID},
		"code": {got.str("authorization_code")}, "redirect_uri": {e.url + "/deviceauth/callback"}, "code_verifier": {got.str("code_verifier")}})
	if tok.status != 200 || tok.str("refresh_token") == "" {
		t.Fatalf("exchange: %d %s", tok.status, tok.body)
	}
	id := claims(t, tok.str("id_token"))
	auth, ok := id[issuer.ClaimAuth].(map[string]any)
	if !ok || auth["chatgpt_account_id"] != "acct_alice" || auth["chatgpt_plan_type"] != "plus" || auth["chatgpt_account_is_fedramp"] != false {
		t.Fatalf("auth claim = %#v", id[issuer.ClaimAuth])
	}
	if id["email"] != "alice@example.com" || id["iss"] != e.url {
		t.Fatalf("id claims = %#v", id)
	}
	at := claims(t, tok.str("access_token"))
	exp, ok := at["exp"].(float64)
	if !ok || exp != float64(int64(exp)) || int64(exp)-time.Now().Unix() < 3500 {
		t.Fatalf("access exp = %v", at["exp"])
	}
}

func TestDeviceDeniedExpiredUnknownAreNotPending(t *testing.T) {
	e := start(t, nil)
	newCode := func() map[string]string {
		uc := e.postJSON("/api/accounts/deviceauth/usercode", map[string]string{"client_id": issuer.CodexClientID})
		return map[string]string{"device_auth_id": uc.str("device_auth_id"), "user_code": uc.str("user_code")}
	}
	d := newCode()
	e.admin("POST", "/device/deny", map[string]string{"user_code": d["user_code"]})
	wantError(t, e.postJSON("/api/accounts/deviceauth/token", d), 400, "access_denied")
	x := newCode()
	e.advance(16 * time.Minute)
	wantError(t, e.postJSON("/api/accounts/deviceauth/token", x), 400, "expired_token")
	wantError(t, e.postJSON("/api/accounts/deviceauth/token", map[string]string{"device_auth_id": "deviceauth_nope", "user_code": "BCDF-GHJK"}), 400, "invalid_grant")
}

func TestAutoApproveDevice(t *testing.T) {
	e := start(t, func(c *issuer.Config) { c.AutoApproveUser = "bob" })
	uc := e.postJSON("/api/accounts/deviceauth/usercode", map[string]string{"client_id": issuer.CodexClientID})
	if iv := uc.str("interval"); iv != "1" {
		t.Errorf("mock mode's interval is %q, want \"1\" (a mock login lasts about a second)", iv)
	}
	poll := map[string]string{"device_auth_id": uc.str("device_auth_id"), "user_code": uc.str("user_code")}
	// The first poll of a code is pending, as while a person reads it.
	wantError(t, e.postJSON("/api/accounts/deviceauth/token", poll), 403, "authorization_pending")
	if got := e.postJSON("/api/accounts/deviceauth/token", poll); got.status != 200 {
		t.Fatalf("auto-approved second poll: %d %s", got.status, got.body)
	}
}

func TestBrowserCodeBindingAndReplay(t *testing.T) {
	e := start(t, nil)
	code, redirect := e.authorize("alice", "http://127.0.0.1:1457/auth/callback")
	form := func(c, r, v string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "client_id": {issuer.CodexClientID}, "code": {c}, "redirect_uri": {r}, "code_verifier": {v}}
	}
	wantError(t, e.postForm("/oauth/token", form(code, redirect, strings.Repeat("w", 86))), 400, "invalid_grant")
	// The failed attempt burnt the code.
	wantError(t, e.postForm("/oauth/token", form(code, redirect, verifier)), 400, "invalid_grant")

	code, _ = e.authorize("alice", issuer.CodexRedirectURIs[0])
	wantError(t, e.postForm("/oauth/token", form(code, "http://127.0.0.1:1457/auth/callback", verifier)), 400, "invalid_grant")

	code, redirect = e.authorize("alice", issuer.CodexRedirectURIs[0])
	ok := e.postForm("/oauth/token", form(code, redirect, verifier))
	if ok.status != 200 {
		t.Fatalf("exchange: %d %s", ok.status, ok.body)
	}
	// Replaying the code fails and revokes what it issued (RFC 6749 §4.1.2).
	wantError(t, e.postForm("/oauth/token", form(code, redirect, verifier)), 400, "invalid_grant")
	wantError(t, e.refresh(ok.str("refresh_token")), 401, "refresh_token_invalidated")
}

func TestAuthorizeRejectsUnregisteredRedirectWithoutRedirecting(t *testing.T) {
	e := start(t, nil)
	r := e.do("GET", strings.TrimPrefix(e.authorizeURL("http://127.0.0.1:9999/auth/callback"), e.url), "", "")
	if r.status != 400 || r.header.Get("Location") != "" {
		t.Fatalf("unregistered redirect: %d location=%q", r.status, r.header.Get("Location"))
	}
	q := url.Values{"response_type": {"code"}, "client_id": {issuer.CodexClientID}, "redirect_uri": {issuer.CodexRedirectURIs[0]},
		"code_challenge": {s256(verifier)}, "code_challenge_method": {"plain"}, "state": {"s"}}
	r = e.do("GET", "/oauth/authorize?"+q.Encode(), "", "")
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != 302 || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "s" {
		t.Fatalf("plain PKCE: %d %s", r.status, r.header.Get("Location"))
	}
	// No session and no auto-approve: to the login page.
	r = e.do("GET", strings.TrimPrefix(e.authorizeURL(issuer.CodexRedirectURIs[0]), e.url), "", "")
	if r.status != 302 || !strings.Contains(r.header.Get("Location"), "/login?return_to=") {
		t.Fatalf("no session: %d %s", r.status, r.header.Get("Location"))
	}
}

func TestRefreshRotationReuseAndFamilyRevocation(t *testing.T) {
	e := start(t, nil)
	login := e.browserLogin("alice")
	rt0 := login.str("refresh_token")
	r1 := e.refresh(rt0)
	if r1.status != 200 || r1.str("refresh_token") == rt0 || r1.str("refresh_token") == "" {
		t.Fatalf("rotation: %d %s", r1.status, r1.body)
	}
	// Form bodies work too.
	r2 := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {issuer.CodexClientID}, "refresh_token": {r1.str("refresh_token")}})
	if r2.status != 200 {
		t.Fatalf("form refresh: %d %s", r2.status, r2.body)
	}
	wantError(t, e.refresh(rt0), 401, "refresh_token_reused")
	wantError(t, e.refresh(r2.str("refresh_token")), 401, "refresh_token_invalidated")
}

func TestRefreshExpiry(t *testing.T) {
	e := start(t, func(c *issuer.Config) { c.RefreshTTL = 2 * time.Hour })
	rt := e.browserLogin("alice").str("refresh_token")
	e.advance(2*time.Hour + time.Second)
	wantError(t, e.refresh(rt), 401, "refresh_token_expired")
}

func TestExpDrivenRefreshUnderClockControl(t *testing.T) {
	e := start(t, nil)
	login := e.browserLogin("alice")
	exp0 := claims(t, login.str("access_token"))["exp"].(float64)
	e.advance(time.Hour - 200*time.Second) // inside codex's 300 s window
	r := e.refresh(login.str("refresh_token"))
	exp1 := claims(t, r.str("access_token"))["exp"].(float64)
	if exp1-exp0 < 3000 {
		t.Fatalf("new exp %v not a lifetime past the old %v", exp1, exp0)
	}
}

func TestConcurrentRefresh(t *testing.T) {
	for _, grace := range []time.Duration{0, 30 * time.Second} {
		t.Run(fmt.Sprint("grace=", grace), func(t *testing.T) {
			e := start(t, func(c *issuer.Config) { c.ReuseGrace = grace })
			rt := e.browserLogin("alice").str("refresh_token")
			const n = 50
			results := make([]resp, n)
			var wg sync.WaitGroup
			startCh := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-startCh
					results[i] = e.refresh(rt)
				}(i)
			}
			close(startCh)
			wg.Wait()
			children := map[string]int{}
			reused := 0
			for _, r := range results {
				switch {
				case r.status == 200:
					children[r.str("refresh_token")]++
				case r.status == 401 && r.str("error") == "refresh_token_reused":
					reused++
				default:
					t.Fatalf("unexpected answer %d %s", r.status, r.body)
				}
			}
			if len(children) != 1 {
				t.Fatalf("%d distinct children minted from one token: %v", len(children), children)
			}
			var child string
			for c := range children {
				child = c
			}
			if grace == 0 {
				if reused != n-1 {
					t.Fatalf("grace 0: %d reuse answers, want %d", reused, n-1)
				}
				wantError(t, e.refresh(child), 401, "refresh_token_invalidated")
			} else {
				if children[child] != n {
					t.Fatalf("grace: %d of %d got the child", children[child], n)
				}
				if r := e.refresh(child); r.status != 200 {
					t.Fatalf("child must stay live: %d %s", r.status, r.body)
				}
			}
		})
	}
}

func TestRevocation(t *testing.T) {
	e := start(t, nil)
	login := e.browserLogin("alice")
	r := e.postJSON("/oauth/revoke", map[string]string{"token": login.str("refresh_token"), "token_type_hint": "refresh_token", "client_id": issuer.CodexClientID})
	if r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	wantError(t, e.refresh(login.str("refresh_token")), 401, "refresh_token_invalidated")
	if r := e.postForm("/oauth/revoke", url.Values{"token": {"rt_unknown"}}); r.status != 200 {
		t.Fatalf("unknown token must be 200 (RFC 7009 §2.2): %d", r.status)
	}
	// The family's access token is dead too.
	chk := e.do("GET", "/backend-api/wham/accounts/check", "", "", "Authorization", "Bearer "+login.str("access_token"))
	if chk.status != 401 {
		t.Fatalf("access token of a revoked family still works: %d", chk.status)
	}
	l2 := e.browserLogin("alice")
	if r := e.postJSON("/oauth/revoke", map[string]string{"token": l2.str("access_token"), "token_type_hint": "access_token"}); r.status != 200 {
		t.Fatalf("revoke access token: %d", r.status)
	}
	if chk := e.do("GET", "/backend-api/wham/accounts/check", "", "", "Authorization", "Bearer "+l2.str("access_token")); chk.status != 401 {
		t.Fatalf("revoked access token still works: %d", chk.status)
	}
}

func TestTokenExchangeAPIKey(t *testing.T) {
	e := start(t, nil)
	login := e.browserLogin("alice")
	r := e.postForm("/oauth/token", url.Values{"grant_type": {issuer.GrantTokenExchange}, "client_id": {issuer.CodexClientID},
		"requested_token": {"openai-api-key"}, "subject_token": {login.str("id_token")}, "subject_token_type": {issuer.TokenTypeIDToken}})
	if r.status != 200 || !strings.HasPrefix(r.str("access_token"), "sk-") {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	r = e.postForm("/oauth/token", url.Values{"grant_type": {issuer.GrantTokenExchange}, "client_id": {issuer.CodexClientID},
		"requested_token": {"openai-api-key"}, "subject_token": {login.str("id_token") + "x"}, "subject_token_type": {issuer.TokenTypeIDToken}})
	wantError(t, r, 400, "invalid_grant")
}

func TestOutageIsTransient(t *testing.T) {
	e := start(t, nil)
	rt := e.browserLogin("alice").str("refresh_token")
	if r := e.admin("POST", "/outage", map[string]bool{"enabled": true}); r.status != 200 {
		t.Fatalf("outage: %d %s", r.status, r.body)
	}
	r := e.refresh(rt)
	wantError(t, r, 503, "temporarily_unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if rz := e.do("GET", "/readyz", "", ""); rz.status != 503 {
		t.Fatalf("readyz during outage: %d", rz.status)
	}
	e.admin("POST", "/outage", map[string]bool{"enabled": false})
	if r := e.refresh(rt); r.status != 200 {
		t.Fatalf("after the outage the same token must work: %d %s", r.status, r.body)
	}
}

func TestRestartKeepsSessionsOnSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	open := func() *env {
		st, err := sqlstore.OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return start(t, func(c *issuer.Config) { c.Store = st })
	}
	e1 := open()
	login := e1.browserLogin("alice")
	kid1 := e1.do("GET", "/.well-known/jwks.json", "", "").json()["keys"]
	e1.http.Close()
	e2 := open()
	if r := e2.refresh(login.str("refresh_token")); r.status != 200 {
		t.Fatalf("refresh after restart: %d %s", r.status, r.body)
	}
	kid2 := e2.do("GET", "/.well-known/jwks.json", "", "").json()["keys"]
	if fmt.Sprint(kid1) != fmt.Sprint(kid2) {
		t.Fatalf("signing keys changed across restart")
	}
}

func TestPathPrefix(t *testing.T) {
	hsURL := ""
	e := start(t, func(c *issuer.Config) { c.PublicURL += "/codex-auth"; hsURL = c.PublicURL })
	d := e.do("GET", "/.well-known/openid-configuration", "", "")
	if d.status != 200 || d.str("issuer") != hsURL || d.str("token_endpoint") != hsURL+"/oauth/token" {
		t.Fatalf("discovery under prefix: %d %s", d.status, d.body)
	}
}

func TestConfigRefusesShortAccessTTL(t *testing.T) {
	_, err := issuer.New(context.Background(), issuer.Config{PublicURL: "http://127.0.0.1:1", Store: nil, AccessTTL: 200 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "proactive-refresh window") {
		t.Fatalf("err = %v", err)
	}
}

func TestRefreshByAnotherClientBurnsNothing(t *testing.T) {
	e := start(t, func(c *issuer.Config) { c.ClientIDs = []string{issuer.CodexClientID, "app_other"} })
	rt := e.browserLogin("alice").str("refresh_token")
	r := e.postJSON("/oauth/token", map[string]string{"client_id": "app_other", "grant_type": "refresh_token", "refresh_token": rt})
	wantError(t, r, 400, "invalid_grant")
	if r := e.refresh(rt); r.status != 200 {
		t.Fatalf("the owner's token must still work: %d %s", r.status, r.body)
	}
}

func TestVerificationPageLimitsWrongCodes(t *testing.T) {
	e := start(t, nil)
	f := &harness.FormApprover{Issuer: e.url, User: "alice"}
	var last error
	for i := 0; i < 12; i++ {
		last = f.ApproveDevice(context.Background(), fmt.Sprintf("WRNG-%04d", i), "")
	}
	if last == nil || !strings.Contains(last.Error(), "(429)") {
		t.Fatalf("the 12th wrong code: %v, want a 429", last)
	}
}
