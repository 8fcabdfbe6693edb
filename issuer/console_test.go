package issuer_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/store"
)

// console is a browser-like client of the console: its cookies (CSRF,
// session) and the CSRF token of the last page it loaded.
type consoleClient struct {
	e       *env
	cookies map[string]string
	csrf    string
}

func newConsoleClient(e *env) *consoleClient {
	return &consoleClient{e: e, cookies: map[string]string{}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *consoleClient) cookieHeader() string {
	var parts []string
	for k, v := range c.cookies {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}

func (c *consoleClient) keep(r resp) resp {
	for _, sc := range r.header.Values("Set-Cookie") {
		kv, _, _ := strings.Cut(sc, ";")
		k, v, _ := strings.Cut(kv, "=")
		if v == "" {
			delete(c.cookies, k)
		} else {
			c.cookies[k] = v
		}
	}
	if m := csrfField.FindSubmatch(r.body); m != nil {
		c.csrf = string(m[1])
	}
	return r
}

func (c *consoleClient) get(path string, hdr ...string) resp {
	c.e.t.Helper()
	return c.keep(c.e.do("GET", path, "", "", append([]string{"Cookie", c.cookieHeader()}, hdr...)...))
}

// post sends a console form with the page's CSRF token unless form sets one.
func (c *consoleClient) post(path string, form url.Values, hdr ...string) resp {
	c.e.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	return c.keep(c.e.do("POST", path, "application/x-www-form-urlencoded", form.Encode(), append([]string{"Cookie", c.cookieHeader()}, hdr...)...))
}

// signIn opens the console of an issuer with an admin token.
func (c *consoleClient) signIn() {
	c.e.t.Helper()
	if r := c.get("/"); r.status != 200 || !strings.Contains(string(r.body), `name="token"`) {
		c.e.t.Fatalf("console sign-in page: %d\n%s", r.status, r.body)
	}
	r := c.post("/console/login", url.Values{"token": {adminToken}})
	if r.status != 303 || c.cookies["codexauth_console"] == "" {
		c.e.t.Fatalf("console sign-in: %d %s", r.status, r.body)
	}
	if r := c.get("/"); r.status != 200 || !strings.Contains(string(r.body), "Request timeline") {
		c.e.t.Fatalf("console after sign-in: %d", r.status)
	}
}

// TestConsoleExistsOnlyWhereItMay: open on a loopback-only issuer without
// an admin token (mock mode, and says so) but not to another Host (DNS
// rebinding) nor to a remote client; behind the token with one; absent
// with neither.
func TestConsoleExistsOnlyWhereItMay(t *testing.T) {
	open := start(t, func(c *issuer.Config) { c.AdminToken, c.LoopbackOnly = "", true })
	r := open.do("GET", "/", "", "")
	if r.status != 200 || !strings.Contains(string(r.body), "Mock mode") || !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'nonce-") {
		t.Fatalf("mock-mode console: %d %q\n%.300s", r.status, r.header.Get("Content-Security-Policy"), r.body)
	}
	serve := func(host, remote string) int {
		req := httptest.NewRequest("GET", open.url+"/", nil)
		req.Host, req.RemoteAddr = host, remote
		rec := httptest.NewRecorder()
		open.srv.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	for host, want := range map[string]int{"rebind.attacker.example:80": 403, "localhost:8765": 200, "[::1]:8765": 200, "127.0.0.2": 200} {
		if got := serve(host, "127.0.0.1:40000"); got != want {
			t.Fatalf("mock-mode console under Host %s: %d, want %d", host, got, want)
		}
	}
	if got := serve(strings.TrimPrefix(open.url, "http://"), "192.0.2.7:40000"); got != 404 {
		t.Fatalf("mock-mode console for a remote client: %d", got)
	}

	none := start(t, func(c *issuer.Config) { c.AdminToken = "" })
	for _, p := range []string{"/", "/console/events"} {
		if r := none.do("GET", p, "", ""); r.status != 404 || r.str("error") != "not_found" {
			t.Fatalf("GET %s without token or loopback: %d %s", p, r.status, r.body)
		}
	}
	if r := none.postForm("/console/faults", url.Values{"name": {"padded-jwt"}, "on": {"1"}}); r.status != 404 {
		t.Fatalf("POST /console/faults without token or loopback: %d", r.status)
	}

	off := start(t, func(c *issuer.Config) { c.LoopbackOnly, c.NoConsole = true, true })
	if r := off.do("GET", "/", "", ""); r.status != 404 {
		t.Fatalf("console switched off: %d", r.status)
	}

	tok := start(t, nil)
	r = tok.do("GET", "/", "", "")
	if r.status != 200 || !strings.Contains(string(r.body), `name="token"`) || strings.Contains(string(r.body), "Request timeline") {
		t.Fatalf("console with an admin token, not signed in: %d\n%.500s", r.status, r.body)
	}
	if r := tok.do("GET", "/console/events", "", ""); r.status != 401 {
		t.Fatalf("event stream without a session: %d", r.status)
	}
}

// TestConsoleAdminTokenSessionAndCSRF: the admin token is asked once and
// traded for an HttpOnly, SameSite=Strict session; a wrong token is
// refused; every state-changing form needs the CSRF token and a
// same-origin post, and a refused one changes nothing.
func TestConsoleAdminTokenSessionAndCSRF(t *testing.T) {
	e := start(t, nil)
	c := newConsoleClient(e)
	c.get("/")
	if r := c.post("/console/login", url.Values{"token": {"not-the-admin-token-0000"}}); r.status != 401 || c.cookies["codexauth_console"] != "" {
		t.Fatalf("wrong admin token: %d", r.status)
	}
	if r := c.post("/console/login", url.Values{"token": {adminToken}, "csrf": {"forged-forged-forged-forged-forged-forged"}}); r.status != 403 || c.cookies["codexauth_console"] != "" {
		t.Fatalf("sign-in without the CSRF token: %d", r.status)
	}
	r := c.post("/console/login", url.Values{"token": {adminToken}})
	sc := r.header.Get("Set-Cookie")
	if r.status != 303 || !strings.HasPrefix(sc, "codexauth_console=") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Fatalf("sign-in: %d %q", r.status, sc)
	}
	page := c.get("/")
	if page.status != 200 || strings.Contains(string(page.body), adminToken) {
		t.Fatalf("console page: %d (admin token shown: %v)", page.status, strings.Contains(string(page.body), adminToken))
	}

	toggle := url.Values{"name": {"padded-jwt"}, "on": {"1"}}
	for name, tc := range map[string]struct {
		form url.Values
		hdr  []string
	}{
		"no CSRF field":         {url.Values{"name": {"padded-jwt"}, "on": {"1"}, "csrf": {""}}, nil},
		"forged CSRF field":     {url.Values{"name": {"padded-jwt"}, "on": {"1"}, "csrf": {strings.Repeat("x", 43)}}, nil},
		"cross-origin post":     {toggle, []string{"Origin", "https://evil.example"}},
		"cross-site fetch":      {toggle, []string{"Sec-Fetch-Site", "cross-site"}},
		"same-site other port":  {toggle, []string{"Origin", "http://127.0.0.1:1"}},
		"fetch without a token": {url.Values{"name": {"padded-jwt"}, "on": {"1"}, "csrf": {""}}, []string{"X-Console-Fetch", "1"}},
	} {
		r := c.post("/console/faults", tc.form, tc.hdr...)
		if r.status != 403 || e.srv.Faults().Has("padded-jwt") {
			t.Fatalf("%s: %d, fault on: %v", name, r.status, e.srv.Faults().Has("padded-jwt"))
		}
	}
	// Without a session, even with a valid CSRF pair, nothing happens.
	anon := newConsoleClient(e)
	anon.cookies["codexauth_csrf"], anon.csrf = c.cookies["codexauth_csrf"], c.csrf
	if r := anon.post("/console/faults", url.Values{"name": {"padded-jwt"}, "on": {"1"}}); r.status != 401 || e.srv.Faults().Has("padded-jwt") {
		t.Fatalf("console action without a session: %d", r.status)
	}
	// The genuine form works, without JavaScript (a redirect back to the
	// console with what happened) and with it (JSON).
	r = c.post("/console/faults", url.Values{"name": {"padded-jwt"}, "on": {"1"}})
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/?note=") || !e.srv.Faults().Has("padded-jwt") {
		t.Fatalf("fault toggle: %d %q", r.status, r.header.Get("Location"))
	}
	if p := c.get("/"); !strings.Contains(string(p.body), `id="faults-on"`) {
		t.Fatal("the console does not warn that a fault is on")
	}
	r = c.post("/console/faults", url.Values{"name": {"padded-jwt"}, "on": {"0"}}, "X-Console-Fetch", "1")
	if r.status != 200 || r.json()["ok"] != true || e.srv.Faults().Has("padded-jwt") {
		t.Fatalf("fault toggle (fetch): %d %s", r.status, r.body)
	}
	r = c.post("/console/faults", url.Values{"name": {"no-such-fault"}, "on": {"1"}}, "X-Console-Fetch", "1")
	if r.status != 400 || !strings.Contains(r.str("message"), "unknown fault") {
		t.Fatalf("unknown fault: %d %s", r.status, r.body)
	}
	// Signing out ends the session.
	if r := c.post("/console/logout", url.Values{}); r.status != 303 {
		t.Fatalf("sign out: %d", r.status)
	}
	if r := c.post("/console/faults", url.Values{"name": {"padded-jwt"}, "on": {"1"}}); r.status != 401 {
		t.Fatalf("action after sign-out: %d", r.status)
	}
}

// TestConsoleActions: every console action does what the admin API does,
// and the state shows it.
func TestConsoleActions(t *testing.T) {
	e := start(t, nil)
	c := newConsoleClient(e)
	c.signIn()
	must := func(path string, form url.Values, want string) {
		t.Helper()
		r := c.post(path, form, "X-Console-Fetch", "1")
		if r.status != 200 || !strings.Contains(r.str("message"), want) {
			t.Fatalf("%s %v: %d %s", path, form, r.status, r.body)
		}
	}
	before := e.srv.Clock().Now()
	must("/console/clock/advance", url.Values{"by": {"2h"}}, "Clock advanced by 2h")
	if d := e.srv.Clock().Now().Sub(before); d < 2*time.Hour {
		t.Fatalf("clock moved %s", d)
	}
	must("/console/clock/reset", url.Values{}, "reset")
	if r := c.post("/console/clock/advance", url.Values{"by": {"-1h"}}, "X-Console-Fetch", "1"); r.status != 400 {
		t.Fatalf("backwards clock: %d %s", r.status, r.body)
	}
	must("/console/settings", url.Values{"access_ttl_seconds": {"60"}, "reuse_grace_seconds": {"5"}}, "60s")
	if toks := e.browserLogin("alice"); int(toks.json()["expires_in"].(float64)) != 60 {
		t.Fatalf("access TTL setting not applied: %s", toks.body)
	}
	must("/console/users", url.Values{"fixture": {`{"id":"carol","email":"carol@example.com","plan_type":"team"}`}}, "carol added")
	must("/console/users", url.Values{"fixture": {`{"id":"carol","email":"carol@example.com","plan_type":"enterprise"}`}}, "carol saved")
	if u := e.admin("GET", "/users/carol", nil); u.str("plan_type") != "enterprise" {
		t.Fatalf("edited user: %s", u.body)
	}
	if r := c.post("/console/users", url.Values{"fixture": {`{"id":"bad id!"}`}}, "X-Console-Fetch", "1"); r.status != 400 {
		t.Fatalf("invalid user: %d", r.status)
	}
	kids := func() string {
		return e.do("GET", "/.well-known/jwks.json", "", "").json()["keys"].([]any)[0].(map[string]any)["kid"].(string)
	}
	old := kids()
	must("/console/keys/rotate", url.Values{}, "Signing key rotated")
	if jwks := e.do("GET", "/.well-known/jwks.json", "", ""); len(jwks.json()["keys"].([]any)) != 2 || !strings.Contains(string(jwks.body), old) {
		t.Fatalf("after rotation the JWKS must hold the old and the new key: %s", jwks.body)
	}

	// A device code: approve as bob from the console; the poll gets tokens.
	wc := wire.NewClient(e.url, "")
	d, ex := wc.RequestDeviceCode(context.Background())
	if ex.Status != 200 {
		t.Fatal(ex)
	}
	page := string(c.get("/").body)
	m := regexp.MustCompile(`<tr id="(dev-\d+)" data-hint="` + regexp.QuoteMeta(d.UserCode[:4])).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the device code is not on the console")
	}
	must("/console/device/approve", url.Values{"device": {m[1]}, "user": {"bob"}}, "approved as bob")
	grant := wc.DevicePoll(context.Background(), d)
	if grant.Status != 200 {
		t.Fatalf("poll after console approval: %s", grant)
	}
	if r := c.post("/console/device/deny", url.Values{"device": {m[1]}}, "X-Console-Fetch", "1"); r.status != 409 {
		t.Fatalf("deciding twice: %d %s", r.status, r.body)
	}

	// A family killed from the console refuses its refresh token.
	toks := e.browserLogin("alice")
	rt := toks.str("refresh_token")
	fams := e.admin("GET", "/families?user=alice", nil)
	var list []struct {
		ID      string `json:"id"`
		Revoked bool   `json:"revoked"`
	}
	_ = json.Unmarshal(fams.body, &list)
	var live string
	for _, f := range list {
		if !f.Revoked {
			live = f.ID
		}
	}
	must("/console/families/revoke", url.Values{"family": {live}}, "revoked")
	wantError(t, e.refresh(rt), 401, "refresh_token_invalidated")
	page = string(c.get("/").body)
	if !strings.Contains(page, "Killed by the console") {
		t.Fatal("the console does not say who killed the family")
	}

	// Outage on and off.
	must("/console/outage", url.Values{"enabled": {"on"}}, "outage ON")
	if r := e.refresh("rt_whatever"); r.status != 503 {
		t.Fatalf("refresh during the simulated outage: %d", r.status)
	}
	must("/console/outage", url.Values{"enabled": {"off"}}, "outage off")

	// A PAT minted through the admin API is listed and revoked here.
	pat := e.admin("POST", "/personal-access-tokens", map[string]string{"user": "alice"}).str("token")
	page = string(c.get("/").body)
	pm := regexp.MustCompile(`name="pat" value="(pat-\d+)"`).FindStringSubmatch(page)
	if pm == nil {
		t.Fatal("the PAT is not on the console")
	}
	must("/console/pats/revoke", url.Values{"pat": {pm[1]}}, "revoked")
	if r := e.do("GET", "/api/accounts/v1/user-auth-credential/whoami", "", "", "Authorization", "Bearer "+pat); r.status != 401 {
		t.Fatalf("whoami with a PAT revoked on the console: %d", r.status)
	}
}

// TestConsoleShowsNoSecret runs every flow that handles a secret — device
// login, browser login, refresh, reuse, API-key exchange, revocation,
// personal access tokens, agent identities, a password sign-in, gateway
// validation, the admin API — while the console's event stream is open,
// then scans the stream and the console page (every filter) for every
// secret those flows carried: none may appear, while their masked forms
// must.
func TestConsoleShowsNoSecret(t *testing.T) {
	const internalSecret = "internal-secret-0123456789"
	e := start(t, func(c *issuer.Config) { c.InternalSecret = internalSecret })
	c := newConsoleClient(e)
	c.signIn()

	// The event stream, as the page's EventSource reads it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/console/events", nil)
	req.Header.Set("Cookie", c.cookieHeader())
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", err, res)
	}
	var mu sync.Mutex
	var events strings.Builder
	var seen int
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() {
			mu.Lock()
			events.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "event: request") {
				seen++
			}
			mu.Unlock()
		}
	}()

	secrets := map[string]string{"admin token": adminToken, "internal secret": internalSecret}
	add := func(name, v string) {
		if v == "" {
			t.Fatalf("flow produced no %s", name)
		}
		secrets[name] = v
		if parts := strings.Split(v, "."); len(parts) == 3 {
			secrets[name+" signature"] = parts[2]
		}
	}
	bg := context.Background()
	wc := wire.NewClient(e.url, "")
	// Device login, approved through the admin API.
	d, ex := wc.RequestDeviceCode(bg)
	if ex.Status != 200 {
		t.Fatal(ex)
	}
	add("device_auth_id", d.DeviceAuthID)
	add("user code", d.UserCode)
	secrets["user code (bare)"] = strings.ReplaceAll(d.UserCode, "-", "")
	if r := e.admin("POST", "/device/approve", map[string]string{"user_code": d.UserCode, "user": "alice"}); r.status != 200 {
		t.Fatal(r.status)
	}
	g, err := wire.ParseDeviceGrant(wc.DevicePoll(bg, d))
	if err != nil {
		t.Fatal(err)
	}
	add("device authorization code", g.AuthorizationCode)
	add("device code verifier", g.CodeVerifier)
	toks, err := wire.ParseTokens(wc.ExchangeCode(bg, g.AuthorizationCode, wc.DeviceCallback(), g.CodeVerifier))
	if err != nil {
		t.Fatal(err)
	}
	add("refresh token", toks.RefreshToken)
	add("access token", toks.AccessToken)
	add("id token", toks.IDToken)
	// Refresh, then reuse of the rotated-out token.
	r2, err := wire.ParseRefresh(wc.Refresh(bg, toks.RefreshToken, "proactive_expiry"))
	if err != nil {
		t.Fatal(err)
	}
	add("rotated refresh token", r2.RefreshToken)
	add("refreshed access token", r2.AccessToken)
	if ex := wc.Refresh(bg, toks.RefreshToken, "proactive_expiry"); ex.Status != 401 {
		t.Fatalf("reuse: %s", ex)
	}
	// Browser login (headless authorize) and the API-key exchange.
	p := wire.NewPKCE()
	redirect := wire.CodexRedirect(1455)
	auth := e.admin("POST", "/authorize", map[string]string{"url": wc.AuthorizeURL(redirect, p, "state-0123456789abcdef"), "user": "bob"})
	cb, err := wire.ParseCallback(auth.str("redirect"), redirect)
	if err != nil {
		t.Fatal(err)
	}
	add("browser authorization code", cb.Code)
	add("PKCE verifier", p.Verifier)
	bt, err := wire.ParseTokens(wc.ExchangeCode(bg, cb.Code, redirect, p.Verifier))
	if err != nil {
		t.Fatal(err)
	}
	add("browser refresh token", bt.RefreshToken)
	add("browser id token", bt.IDToken)
	key := wc.ExchangeAPIKey(bg, bt.IDToken)
	add("API key", key.Str("access_token"))
	if ex := wc.Revoke(bg, bt.RefreshToken, "refresh_token"); ex.Status != 200 {
		t.Fatalf("revoke: %s", ex)
	}
	// Minted credentials.
	pat := e.admin("POST", "/personal-access-tokens", map[string]string{"user": "alice"}).str("token")
	add("personal access token", pat)
	if r := e.do("GET", "/api/accounts/v1/user-auth-credential/whoami", "", "", "Authorization", "Bearer "+pat); r.status != 200 {
		t.Fatalf("whoami: %d", r.status)
	}
	add("agent identity", e.admin("POST", "/agent-identities", map[string]string{"user": "alice"}).str("jwt"))
	minted := e.admin("POST", "/tokens", map[string]string{"user": "bob"})
	add("minted refresh token", minted.str("refresh_token"))
	add("minted access token", minted.str("access_token"))
	// A user with a password signs in on the login page.
	const password = "correct-horse-battery-staple-42"
	add("password", password)
	if r := e.admin("PUT", "/users/dave", map[string]string{"password": password}); r.status != 200 {
		t.Fatalf("add dave: %d %s", r.status, r.body)
	}
	lp := newConsoleClient(e)
	lp.get("/login")
	lr := lp.post("/login", url.Values{"username": {"dave"}, "password": {password}})
	if lr.status != 303 || lp.cookies["codexauth_session"] == "" {
		t.Fatalf("password sign-in: %d", lr.status)
	}
	add("session cookie", lp.cookies["codexauth_session"])
	// Gateway validation.
	if v := wc.Validate(bg, e.url+"/internal/codex-auth/validate", internalSecret, map[string]string{"scheme": "bearer", "token": minted.str("access_token")}); v.Status != 200 {
		t.Fatalf("validate: %s", v)
	}

	// Wait until the stream carried the last request.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := strings.Contains(events.String(), "internal/codex-auth/validate")
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var pagesHTML strings.Builder
	for _, q := range []string{"", "?outcome=errors", "?user=alice", "?user=bob", "?outcome=refresh_token_reused"} {
		r := c.get("/" + q)
		if r.status != 200 {
			t.Fatalf("console%s: %d", q, r.status)
		}
		pagesHTML.Write(r.body)
	}
	html := pagesHTML.String()
	mu.Lock()
	stream := events.String()
	n := seen
	mu.Unlock()
	if n < 15 {
		t.Fatalf("the event stream carried only %d requests:\n%.3000s", n, stream)
	}
	for name, v := range secrets {
		if strings.Contains(html, v) {
			t.Errorf("the console page shows the %s", name)
		}
		if strings.Contains(stream, v) {
			t.Errorf("the event stream carries the %s", name)
		}
	}
	// What was masked is recognisable: kinds, fingerprints, decoded claims.
	for _, want := range []string{"‹rt_… masked #", "‹deviceauth_… masked #", "‹ac_… masked #", "‹sk-… masked #", "‹at-… masked #",
		"Bearer ‹", "‹JWT masked›", "codexauth_session=‹masked›", "X-Internal-Secret: ‹masked›", "refresh_token_reused", d.UserCode[:4] + "‹…masked›"} {
		if !strings.Contains(html, want) && !strings.Contains(stream, want) {
			t.Errorf("neither the page nor the stream shows %q", want)
		}
	}
	t.Logf("scanned %d KiB of console HTML and %d KiB of events (%d requests) for %d secrets", len(html)>>10, len(stream)>>10, n, len(secrets))
}

// TestTimelineIsBounded: the timeline keeps the last 500 requests, newest
// first.
func TestTimelineIsBounded(t *testing.T) {
	e := start(t, nil)
	c := newConsoleClient(e)
	c.signIn()
	for i := 0; i < 520; i++ {
		e.do("GET", fmt.Sprintf("/.well-known/openid-configuration?n=%d", i), "", "")
	}
	page := string(c.get("/").body)
	if !strings.Contains(page, "last 200 of 500 recorded") {
		t.Fatalf("timeline counts: %s", regexp.MustCompile(`last \d+ of \d+ recorded`).FindString(page))
	}
	if !strings.Contains(page, "?n=519\n") || !strings.Contains(page, "?n=320\n") || strings.Contains(page, "?n=319\n") {
		t.Fatal("the timeline does not show the newest 200 requests, newest first")
	}
	if strings.Index(page, "?n=519\n") > strings.Index(page, "?n=518\n") {
		t.Fatal("the timeline is not newest first")
	}
}

// TestConsoleFamilyChain: a family on the console shows its login, each
// rotation, a grace replay, the reuse that killed it and who killed it;
// the timeline filters by family and by outcome.
func TestConsoleFamilyChain(t *testing.T) {
	e := start(t, func(c *issuer.Config) { c.ReuseGrace = 30 * time.Second })
	c := newConsoleClient(e)
	c.signIn()
	other := e.browserLogin("bob").str("refresh_token")
	rt1 := e.browserLogin("alice").str("refresh_token")
	rt2 := e.refresh(rt1).str("refresh_token")
	if r := e.refresh(rt1); r.status != 200 || r.str("refresh_token") != rt2 {
		t.Fatalf("grace replay: %d", r.status)
	}
	e.advance(time.Minute)
	wantError(t, e.refresh(rt1), 401, "refresh_token_reused")
	if r := e.refresh(other); r.status != 200 {
		t.Fatalf("bob's refresh: %d", r.status)
	}
	var fams []struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(e.admin("GET", "/families?user=alice", nil).body, &fams)
	if len(fams) != 1 {
		t.Fatalf("alice's families: %v", fams)
	}
	page := string(c.get("/").body)
	start := strings.Index(page, `id="fam-`+fams[0].ID+`"`)
	if start < 0 {
		t.Fatal("alice's family is not on the console")
	}
	block := page[start:]
	block = block[:strings.Index(block, "</ol>")]
	fp1, fp2 := store.Hash(rt1)[:8], store.Hash(rt2)[:8]
	for _, want := range []string{"<b>login</b>", "→ <code>#" + fp1, "<b>rotated</b> <code>#" + fp1 + "</code> → <code>#" + fp2,
		"<b>grace-replay</b> <code>#" + fp1, "<b>reused</b> <code>#" + fp1, "Killed by reuse detection: token #" + fp1, "refresh_token_reused"} {
		if !strings.Contains(block, want) {
			t.Errorf("alice's family lacks %q:\n%s", want, block)
		}
	}
	byFamily := string(c.get("/?family=" + fams[0].ID).body)
	if n := strings.Count(byFamily, `<details class="req`); n != 4 || strings.Count(byFamily, `data-family="`+fams[0].ID+`"`) != n {
		t.Errorf("the family filter shows %d requests, want alice's 4 (the code exchange, the refresh, the replay, the reuse)", n)
	}
	if n := strings.Count(string(c.get("/?outcome=refresh_token_reused").body), `<details class="req`); n != 1 {
		t.Errorf("the outcome filter shows %d requests, want the one reuse", n)
	}
}

// TestConsoleUnderAPathPrefix: an issuer whose public URL has a path keeps
// its console, forms, stream and cookies under that path.
func TestConsoleUnderAPathPrefix(t *testing.T) {
	var root string
	e := start(t, func(c *issuer.Config) { root = c.PublicURL; c.PublicURL += "/codex-auth" })
	c := newConsoleClient(e)
	c.signIn()
	page := string(c.get("/").body)
	if !strings.Contains(page, `data-base="/codex-auth"`) || !strings.Contains(page, `action="/codex-auth/console/faults"`) {
		t.Fatal("the console's forms are not under the path prefix")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/console/events", nil)
	req.Header.Set("Cookie", c.cookieHeader())
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != 200 || stream.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("event stream under the prefix: %v %v", err, stream)
	}
	stream.Body.Close()
	res, err := http.Get(root + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("the server root answers %d; the console lives under the prefix", res.StatusCode)
	}
}
