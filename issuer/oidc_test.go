package issuer_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer"
)

// What standard OpenID Connect clients need besides codex's flows (issue
// 12): nonce, auth_time, prompt=none, userinfo, RFC 8414 metadata, HTTP
// Basic client ids, revocation hints and scope narrowing on refresh.

// signIn signs user in through the login form and returns the session
// cookie.
func (e *env) signIn(user string) string {
	e.t.Helper()
	tok := strings.Repeat("c", 40)
	r := e.do("POST", "/login", "application/x-www-form-urlencoded", url.Values{"pick": {user}, "csrf": {tok}}.Encode(),
		"Cookie", "codexauth_csrf="+tok)
	if r.status != http.StatusSeeOther {
		e.t.Fatalf("login: %d %s", r.status, r.body)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "codexauth_session" {
			return c.Name + "=" + c.Value
		}
	}
	e.t.Fatalf("login set no session cookie: %v", r.header)
	return ""
}

// oidcAuthorizeURL is a standard client's authorization request, with
// extra parameters (nonce, prompt) appended.
func (e *env) oidcAuthorizeURL(extra ...string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {issuer.CodexClientID}, "redirect_uri": {issuer.CodexRedirectURIs[0]},
		"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}, "state": {"st-oidc"}, "scope": {"openid profile email offline_access"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/oauth/authorize?" + q.Encode()
}

// callback follows an authorize answer to the client's redirect URI.
func callback(t *testing.T, r resp) url.Values {
	t.Helper()
	loc, err := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), issuer.CodexRedirectURIs[0]) {
		t.Fatalf("authorize did not redirect to the client: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	return loc.Query()
}

func (e *env) redeem(code string, hdr ...string) resp {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {issuer.CodexRedirectURIs[0]}, "code_verifier": {verifier}}
	if len(hdr) == 0 {
		form.Set("client_id", issuer.CodexClientID)
	}
	return e.do("POST", "/oauth/token", "application/x-www-form-urlencoded", form.Encode(), hdr...)
}

func num(t *testing.T, c map[string]any, k string) int64 {
	t.Helper()
	v, ok := c[k].(float64)
	if !ok {
		t.Fatalf("claim %s is %T %v, want a number", k, c[k], c[k])
	}
	return int64(v)
}

func TestNonceAndAuthTimeFromTheSessionThroughRefresh(t *testing.T) {
	e := start(t, nil)
	cookie := e.signIn("alice")
	loginAt := e.srv.Clock().Now().Unix()
	e.advance(10 * time.Minute) // the session outlives its login
	cb := callback(t, e.do("GET", e.oidcAuthorizeURL("nonce", "n-0S6_WzA2Mj"), "", "", "Cookie", cookie))
	tok := e.redeem(cb.Get("code"))
	if tok.status != 200 {
		t.Fatalf("exchange: %d %s", tok.status, tok.body)
	}
	id := claims(t, tok.str("id_token"))
	if id["nonce"] != "n-0S6_WzA2Mj" {
		t.Fatalf("id_token nonce = %v, want the authorization request's (OIDC Core §3.1.3.7)", id["nonce"])
	}
	if at := num(t, id, "auth_time"); at != loginAt {
		t.Fatalf("auth_time = %d, want the session's login time %d (iat %d)", at, loginAt, num(t, id, "iat"))
	}
	e.advance(5 * time.Minute)
	ref := e.refresh(tok.str("refresh_token"))
	if ref.status != 200 {
		t.Fatalf("refresh: %d %s", ref.status, ref.body)
	}
	again := claims(t, ref.str("id_token"))
	if num(t, again, "auth_time") != loginAt || again["nonce"] != "n-0S6_WzA2Mj" || num(t, again, "iat") <= num(t, id, "iat") {
		t.Fatalf("refreshed id_token: auth_time %v nonce %v iat %v; want auth_time %d and the nonce kept (OIDC Core §12.2)", again["auth_time"], again["nonce"], again["iat"], loginAt)
	}
	// A second rotation still carries the context.
	if third := e.refresh(ref.str("refresh_token")); third.status != 200 || claims(t, third.str("id_token"))["nonce"] != "n-0S6_WzA2Mj" {
		t.Fatalf("second refresh: %d %s", third.status, third.body)
	}
	// Without a nonce, the id_token has none (and codex's flows are as before).
	plain := e.browserLogin("bob")
	if _, has := claims(t, plain.str("id_token"))["nonce"]; has {
		t.Fatalf("an id_token without a requested nonce carries one: %s", plain.body)
	}
}

func TestAuthorizeRefusesAnOversizeNonce(t *testing.T) {
	e := start(t, nil)
	cookie := e.signIn("alice")
	cb := callback(t, e.do("GET", e.oidcAuthorizeURL("nonce", strings.Repeat("n", 256)), "", "", "Cookie", cookie))
	if cb.Get("error") != "invalid_request" || cb.Get("code") != "" {
		t.Fatalf("a 256-character nonce: %v", cb)
	}
}

func TestPromptNone(t *testing.T) {
	e := start(t, nil)
	cb := callback(t, e.do("GET", e.oidcAuthorizeURL("prompt", "none"), "", ""))
	if cb.Get("error") != "login_required" || cb.Get("state") != "st-oidc" || cb.Get("code") != "" {
		t.Fatalf("prompt=none without a session: %v, want error=login_required and the state (OIDC Core §3.1.2.6)", cb)
	}
	cookie := e.signIn("alice")
	if cb := callback(t, e.do("GET", e.oidcAuthorizeURL("prompt", "none"), "", "", "Cookie", cookie)); cb.Get("code") == "" {
		t.Fatalf("prompt=none with a session: %v, want a code", cb)
	}
	if cb := callback(t, e.do("GET", e.oidcAuthorizeURL("prompt", "none login"), "", "", "Cookie", cookie)); cb.Get("error") != "invalid_request" {
		t.Fatalf("prompt=none combined with login: %v, want invalid_request (OIDC Core §3.1.2.1)", cb)
	}
	// Other prompt values change nothing here; without a session they lead to
	// the login page as before.
	if r := e.do("GET", e.oidcAuthorizeURL("prompt", "login"), "", ""); r.status != 302 || !strings.Contains(r.header.Get("Location"), "/login?return_to=") {
		t.Fatalf("prompt=login without a session: %d %s", r.status, r.header.Get("Location"))
	}
}

func basic(user, pass string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(user)+":"+url.QueryEscape(pass)))}
}

func TestClientIDInHTTPBasic(t *testing.T) {
	e := start(t, nil)
	code, _ := e.authorize("alice", issuer.CodexRedirectURIs[0])
	tok := e.redeem(code, basic(issuer.CodexClientID, "")...)
	if tok.status != 200 {
		t.Fatalf("code exchange with the client id in HTTP Basic: %d %s", tok.status, tok.body)
	}
	ref := e.do("POST", "/oauth/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}.Encode(), basic(issuer.CodexClientID, "")...)
	if ref.status != 200 {
		t.Fatalf("refresh with the client id in HTTP Basic: %d %s", ref.status, ref.body)
	}
	code, _ = e.authorize("alice", issuer.CodexRedirectURIs[0])
	r := e.redeem(code, basic(issuer.CodexClientID, "a-secret")...)
	wantError(t, r, 401, "invalid_client")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("401 invalid_client without a Basic challenge (RFC 6749 §5.2): %v", r.header)
	}
	wantError(t, e.redeem(code, basic("app_someone_else", "")...), 401, "invalid_client")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ref.str("refresh_token")}, "client_id": {"app_other"}}
	wantError(t, e.do("POST", "/oauth/token", "application/x-www-form-urlencoded", form.Encode(), basic(issuer.CodexClientID, "")...), 400, "invalid_request")
	wantError(t, e.do("POST", "/oauth/token", "application/x-www-form-urlencoded", form.Encode(), "Authorization", "Basic !!!"), 401, "invalid_client")
	rev := e.do("POST", "/oauth/revoke", "application/x-www-form-urlencoded", url.Values{"token": {ref.str("refresh_token")}}.Encode(), basic(issuer.CodexClientID, "")...)
	if rev.status != 200 {
		t.Fatalf("revoke with the client id in HTTP Basic: %d %s", rev.status, rev.body)
	}
	wantError(t, e.refresh(ref.str("refresh_token")), 401, "refresh_token_invalidated")
}

func TestRevocationToleratesAnUnknownHint(t *testing.T) {
	e := start(t, nil)
	login := e.browserLogin("alice")
	r := e.postForm("/oauth/revoke", url.Values{"token": {login.str("refresh_token")}, "token_type_hint": {"id_token"}})
	if r.status != 200 {
		t.Fatalf("revoke with token_type_hint=id_token: %d %s (RFC 7009 §2.1: the hint is only a hint)", r.status, r.body)
	}
	wantError(t, e.refresh(login.str("refresh_token")), 401, "refresh_token_invalidated")
}

func TestUserinfo(t *testing.T) {
	e := start(t, nil)
	login := e.browserLogin("alice")
	at := login.str("access_token")
	sub := claims(t, login.str("id_token"))["sub"]
	for _, r := range []resp{
		e.do("GET", "/oauth/userinfo", "", "", "Authorization", "Bearer "+at),
		e.do("POST", "/oauth/userinfo", "", "", "Authorization", "Bearer "+at),
		e.do("POST", "/oauth/userinfo", "application/x-www-form-urlencoded", url.Values{"access_token": {at}}.Encode()),
	} {
		if r.status != 200 || r.json()["sub"] != sub || r.str("email") == "" {
			t.Fatalf("userinfo: %d %s, want the claims of %v (OIDC Core §5.3.2)", r.status, r.body, sub)
		}
	}
	d := e.do("GET", "/.well-known/openid-configuration", "", "")
	if d.str("userinfo_endpoint") != e.url+"/oauth/userinfo" {
		t.Fatalf("discovery userinfo_endpoint = %q", d.str("userinfo_endpoint"))
	}
	none := e.do("GET", "/oauth/userinfo", "", "")
	if none.status != 401 || !strings.HasPrefix(none.header.Get("WWW-Authenticate"), "Bearer") || strings.Contains(none.header.Get("WWW-Authenticate"), "error=") {
		t.Fatalf("userinfo without a token: %d %v (RFC 6750 §3.1: 401, a Bearer challenge, no error code)", none.status, none.header)
	}
	for name, r := range map[string]resp{
		"an id_token": e.do("GET", "/oauth/userinfo", "", "", "Authorization", "Bearer "+login.str("id_token")),
		"garbage":     e.do("GET", "/oauth/userinfo", "", "", "Authorization", "Bearer not.a.token"),
	} {
		wantError(t, r, 401, "invalid_token")
		if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("%s: challenge %q", name, r.header.Get("WWW-Authenticate"))
		}
	}
	wantError(t, e.do("POST", "/oauth/userinfo", "application/x-www-form-urlencoded", url.Values{"access_token": {at}}.Encode(), "Authorization", "Bearer "+at), 400, "invalid_request")
	e.postJSON("/oauth/revoke", map[string]string{"token": login.str("refresh_token")})
	wantError(t, e.do("GET", "/oauth/userinfo", "", "", "Authorization", "Bearer "+at), 401, "invalid_token")
}

func TestAuthorizationServerMetadata(t *testing.T) {
	e := start(t, nil)
	oidc := e.do("GET", "/.well-known/openid-configuration", "", "")
	as := e.do("GET", "/.well-known/oauth-authorization-server", "", "")
	if as.status != 200 || as.str("issuer") != e.url || as.str("token_endpoint") != oidc.str("token_endpoint") {
		t.Fatalf("RFC 8414 metadata: %d %s", as.status, as.body)
	}
	var prefixed string
	p := start(t, func(c *issuer.Config) { c.PublicURL += "/codex-auth"; prefixed = c.PublicURL })
	for _, u := range []string{p.http.URL + "/.well-known/oauth-authorization-server/codex-auth", prefixed + "/.well-known/oauth-authorization-server"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d (RFC 8414 §3.1)", u, res.StatusCode)
		}
	}
}

func TestRefreshMayNarrowTheScopeNeverBroadenIt(t *testing.T) {
	e := start(t, nil)
	login := e.browserLogin("alice")
	refresh := func(rt, scope string) resp {
		return e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {issuer.CodexClientID}, "refresh_token": {rt}, "scope": {scope}})
	}
	wantError(t, refresh(login.str("refresh_token"), "openid email admin"), 400, "invalid_scope")
	narrow := refresh(login.str("refresh_token"), "openid email") // the refused request spent nothing
	if narrow.status != 200 || narrow.str("scope") != "openid email" || fmt.Sprint(claims(t, narrow.str("access_token"))["scp"]) != "[openid email]" {
		t.Fatalf("narrowing refresh: %d %s", narrow.status, narrow.body)
	}
	// Narrowing one access token does not shrink the grant (RFC 6749 §6).
	whole := e.refresh(narrow.str("refresh_token"))
	if whole.status != 200 || whole.str("scope") != "openid profile email offline_access" {
		t.Fatalf("refresh without scope after narrowing: %d %s", whole.status, whole.body)
	}
}
