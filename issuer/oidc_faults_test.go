package issuer_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/faults"
)

// Each OIDC fault of the catalogue brings back the defect it names.
func TestOIDCFaultsBreakWhatTheyName(t *testing.T) {
	check := func(fault string, probe func(e *env) string) {
		t.Helper()
		if got := probe(start(t, nil)); got != "" {
			t.Fatalf("%s: without the fault: %s", fault, got)
		}
		set, err := faults.NewSet(fault)
		if err != nil {
			t.Fatal(err)
		}
		if probe(start(t, func(c *issuer.Config) { c.Faults = set })) == "" {
			t.Fatalf("fault %s changes nothing", fault)
		}
	}
	check(faults.NonceDropped, func(e *env) string {
		cb := callback(t, e.do("GET", e.oidcAuthorizeURL("nonce", "n1"), "", "", "Cookie", e.signIn("alice")))
		if n := claims(t, e.redeem(cb.Get("code")).str("id_token"))["nonce"]; n != "n1" {
			return fmt.Sprintf("nonce %v", n)
		}
		return ""
	})
	check(faults.AuthTimeAtIssue, func(e *env) string {
		e.advance(time.Minute)
		code, _ := e.authorize("alice", issuer.CodexRedirectURIs[0])
		e.advance(time.Minute)
		id := claims(t, e.redeem(code).str("id_token"))
		if num(t, id, "auth_time") >= num(t, id, "iat") {
			return "auth_time is the issue time"
		}
		return ""
	})
	check(faults.PromptNoneLoginPage, func(e *env) string {
		if r := e.do("GET", e.oidcAuthorizeURL("prompt", "none"), "", ""); !strings.Contains(r.header.Get("Location"), "error=login_required") {
			return r.header.Get("Location")
		}
		return ""
	})
	check(faults.RevokeHintStrict, func(e *env) string {
		if r := e.postForm("/oauth/revoke", url.Values{"token": {"x"}, "token_type_hint": {"id_token"}}); r.status != 200 {
			return string(r.body)
		}
		return ""
	})
	check(faults.BasicClientRefused, func(e *env) string {
		code, _ := e.authorize("alice", issuer.CodexRedirectURIs[0])
		if r := e.redeem(code, basic(issuer.CodexClientID, "")...); r.status != 200 {
			return string(r.body)
		}
		return ""
	})
	check(faults.UserinfoMissing, func(e *env) string {
		at := e.browserLogin("alice").str("access_token")
		r := e.do("GET", "/oauth/userinfo", "", "", "Authorization", "Bearer "+at)
		if d := e.do("GET", "/.well-known/openid-configuration", "", ""); r.status != 200 || d.str("userinfo_endpoint") == "" {
			return fmt.Sprintf("userinfo %d, discovery %q", r.status, d.str("userinfo_endpoint"))
		}
		return ""
	})
	check(faults.ASMetadataMissing, func(e *env) string {
		if r := e.do("GET", "/.well-known/oauth-authorization-server", "", ""); r.status != 200 {
			return fmt.Sprint(r.status)
		}
		return ""
	})
	check(faults.RefreshScopeUnchecked, func(e *env) string {
		rt := e.browserLogin("alice").str("refresh_token")
		r := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"openid admin"}})
		if r.status != 400 {
			return fmt.Sprint(r.status)
		}
		return ""
	})
}
