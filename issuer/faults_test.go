package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/faults"
)

// These tests pin one fault of each seam kind to the defect the catalogue
// describes; `codexauth selftest` proves the suite catches all of them.

func startWithFaults(t *testing.T, names ...string) *env {
	t.Helper()
	set, err := faults.NewSet(names...)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, func(c *issuer.Config) { c.Faults = set })
}

// verifiesWithActiveKey checks a JWS signature over its first two segments
// as sent, whatever their encoding.
func verifiesWithActiveKey(t *testing.T, e *env, tok string) {
	t.Helper()
	key, err := e.srv.Keys().Active(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatalf("signature segment: %v", err)
	}
	if err := jwt.SigningMethodRS256.Verify(tok[:i], sig, &key.Private.PublicKey); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
}

func segment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.URLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	}
	var m map[string]any
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("segment %d of %q is not base64 JSON", i, tok)
	}
	return m
}

// Token seam: padded-jwt pads the payload and still signs what it sends.
func TestFaultPaddedJWT(t *testing.T) {
	e := startWithFaults(t, faults.PaddedJWT)
	tok := e.browserLogin("alice")
	id := tok.str("id_token")
	if payload := strings.Split(id, ".")[1]; !strings.HasSuffix(payload, "=") {
		t.Fatalf("payload %q is not padded", payload)
	}
	verifiesWithActiveKey(t, e, id)
	if segment(t, id, 1)["email"] != "alice@example.com" {
		t.Fatalf("padded payload lost its claims: %v", segment(t, id, 1))
	}
}

// Token seam: agent-no-kid drops the kid header and re-signs.
func TestFaultAgentNoKid(t *testing.T) {
	e := startWithFaults(t, faults.AgentNoKid, faults.PlanNotString)
	r := e.admin("POST", "/agent-identities", map[string]string{"user": "alice"})
	if r.status != 200 {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	if h := segment(t, r.str("jwt"), 0); h["kid"] != nil || h["alg"] != "RS256" {
		t.Fatalf("header = %v, want RS256 without kid", h)
	}
	verifiesWithActiveKey(t, e, r.str("jwt"))
	// plan-not-string misshapes ChatGPT tokens only, not agent identities.
	if c := segment(t, r.str("jwt"), 1); c["plan_type"] != "plus" {
		t.Fatalf("agent identity plan_type = %v", c["plan_type"])
	}
	tok := e.browserLogin("alice")
	if auth := claims(t, tok.str("access_token"))[issuer.ClaimAuth].(map[string]any); auth["chatgpt_plan_type"] != float64(2) {
		t.Fatalf("plan-not-string: access token plan = %v", auth["chatgpt_plan_type"])
	}
}

// Route seam, before the handler: usercode-form-only refuses JSON, still
// takes forms.
func TestFaultUsercodeFormOnly(t *testing.T) {
	e := startWithFaults(t, faults.UsercodeFormOnly)
	wantError(t, e.postJSON("/api/accounts/deviceauth/usercode", map[string]string{"client_id": issuer.CodexClientID}), 415, "invalid_request")
	if r := e.postForm("/api/accounts/deviceauth/usercode", url.Values{"client_id": {issuer.CodexClientID}}); r.status != 200 || r.str("device_auth_id") == "" {
		t.Fatalf("form usercode: %d %s", r.status, r.body)
	}
}

// Route seam, after the handler; the admin API switches faults at run time.
func TestFaultIntervalNumberSwitchedAtRunTime(t *testing.T) {
	e := start(t, nil)
	usercode := func() any {
		r := e.postJSON("/api/accounts/deviceauth/usercode", map[string]string{"client_id": issuer.CodexClientID})
		if r.status != 200 {
			t.Fatalf("usercode: %d %s", r.status, r.body)
		}
		return r.json()["interval"]
	}
	if v := usercode(); v != "5" {
		t.Fatalf("fault-free interval = %#v", v)
	}
	if r := e.admin("PUT", "/faults", map[string]any{"enabled": []string{faults.IntervalNumber}}); r.status != 200 {
		t.Fatalf("switch on: %d %s", r.status, r.body)
	}
	if v := usercode(); v != float64(5) {
		t.Fatalf("interval-number: interval = %#v, want the number 5", v)
	}
	e.admin("PUT", "/faults", map[string]any{"enabled": []string{}})
	if v := usercode(); v != "5" {
		t.Fatalf("after switching off: interval = %#v", v)
	}
}

// Route seam on both doors of the authorization endpoint: state-dropped.
func TestFaultStateDroppedOnAdminAuthorize(t *testing.T) {
	e := startWithFaults(t, faults.StateDropped)
	r := e.admin("POST", "/authorize", map[string]string{"url": e.authorizeURL(issuer.CodexRedirectURIs[0]), "user": "alice"})
	loc, err := url.Parse(r.str("redirect"))
	if r.status != 200 || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %s", r.status, r.body)
	}
	if loc.Query().Has("state") {
		t.Fatalf("state-dropped: redirect %s still carries state", loc)
	}
}

// Store seam: reuse-no-family-revoke answers reuse but spares the family.
func TestFaultReuseNoFamilyRevoke(t *testing.T) {
	e := startWithFaults(t, faults.ReuseNoFamilyRevoke)
	rt1 := e.browserLogin("alice").str("refresh_token")
	r2 := e.refresh(rt1)
	if r2.status != 200 {
		t.Fatalf("refresh: %d %s", r2.status, r2.body)
	}
	wantError(t, e.refresh(rt1), 401, "refresh_token_reused")
	if r3 := e.refresh(r2.str("refresh_token")); r3.status != 200 {
		t.Fatalf("the family should live on under reuse-no-family-revoke: %d %s", r3.status, r3.body)
	}
}

// Store and route seams together: no-rotation hands the presented token
// back, and it keeps working.
func TestFaultNoRotation(t *testing.T) {
	e := startWithFaults(t, faults.NoRotation)
	rt := e.browserLogin("alice").str("refresh_token")
	for i := 0; i < 2; i++ {
		r := e.refresh(rt)
		if r.status != 200 || r.str("refresh_token") != rt {
			t.Fatalf("refresh %d: %d %s, want the same refresh token back", i, r.status, r.body)
		}
	}
}

// Store observation: revoke-unknown-400 refuses unknown tokens only.
func TestFaultRevokeUnknown400(t *testing.T) {
	e := startWithFaults(t, faults.RevokeUnknown400)
	wantError(t, e.postJSON("/oauth/revoke", map[string]string{"token": "rt_unknown"}), 400, "invalid_request")
	rt := e.browserLogin("alice").str("refresh_token")
	if r := e.postJSON("/oauth/revoke", map[string]string{"token": rt}); r.status != 200 {
		t.Fatalf("revoking a known token: %d %s", r.status, r.body)
	}
	wantError(t, e.refresh(rt), 401, "refresh_token_invalidated")
}

// Hook: pkce-unchecked redeems a code with any verifier.
func TestFaultPKCEUnchecked(t *testing.T) {
	e := startWithFaults(t, faults.PKCEUnchecked)
	code, redirect := e.authorize("alice", issuer.CodexRedirectURIs[0])
	r := e.postForm("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {issuer.CodexClientID},
		"code": {code}, "redirect_uri": {redirect}, "code_verifier": {strings.Repeat("w", 43)}})
	if r.status != 200 {
		t.Fatalf("pkce-unchecked: exchange with a wrong verifier answered %d %s", r.status, r.body)
	}
}
