package specs

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// The oidc profile: what standard OpenID Connect and OAuth libraries need
// from the same issuer codex uses. Requests are shaped as those libraries
// send them (form bodies, discovery-driven endpoints), on codex's registered
// client and redirect URI.

// givenDiscovery reads the OpenID configuration as a step (blocked by
// CDX-DISC-001).
func givenDiscovery(ctx SpecContext) map[string]any {
	GinkgoHelper()
	ex := client().Get(ctx, "/.well-known/openid-configuration", nil)
	doc := ex.JSON()
	if ex.Err != nil || ex.Status != 200 || doc == nil {
		blockedBy("CDX-DISC-001", "the OpenID configuration could not be read: %s", ex)
	}
	return doc
}

// givenAuthorizedWith runs codex's authorize URL plus extra parameters
// through the approver as a step (blocked by CDX-BROWSER-001 when it yields
// no code).
func givenAuthorizedWith(ctx SpecContext, redirect string, extra ...string) authorized {
	GinkgoHelper()
	a := authorized{pkce: wire.NewPKCE(), state: wire.NewState(), redirect: redirect}
	u := client().AuthorizeURL(redirect, a.pkce, a.state, extra...)
	loc, err := target.Approver.Authorize(ctx, u, redirect)
	if err == nil {
		a.cb, err = wire.ParseCallback(loc, redirect)
	}
	if err != nil || a.cb.Code == "" {
		blockedBy("CDX-BROWSER-001", "an authorize URL with %v gave no code: %v %s %s", extra, err, a.cb.Error, a.cb.ErrDesc)
	}
	return a
}

// givenTokens redeems an authorized code as codex does, as a step (blocked
// by CDX-BROWSER-005).
func givenTokens(ctx SpecContext, a authorized) wire.Tokens {
	GinkgoHelper()
	ex := a.exchange(ctx)
	toks, err := wire.ParseTokens(ex)
	if ex.Err != nil || ex.Status != 200 || err != nil {
		blockedBy("CDX-BROWSER-005", "redeeming a code with its verifier and redirect_uri failed: %s", ex)
	}
	return toks
}

// jwtClaims decodes a JWT payload as a step of a spec about its claims
// (blocked by CDX-CLAIMS-002 when codex could not read it either).
func jwtClaims(raw, what string) map[string]any {
	GinkgoHelper()
	c, err := wire.DecodeJWTPayload(raw)
	if err != nil {
		blockedBy("CDX-CLAIMS-002", "%s: %v", what, err)
	}
	return c
}

// intClaim is a claim that must be a JSON integer (OIDC Core §2: NumericDate).
func intClaim(c map[string]any, name string) int64 {
	GinkgoHelper()
	n, ok := c[name].(json.Number)
	Expect(ok).To(BeTrue(), "claim %s is %T %v, want a JSON number", name, c[name], c[name])
	v, err := n.Int64()
	Expect(err).NotTo(HaveOccurred(), "claim %s = %s is not an integer", name, n)
	return v
}

// basicClient is the Authorization header a library sends for a public
// client in HTTP Basic: the form-urlencoded id and an empty password
// (RFC 6749 §2.3.1).
func basicClient(clientID string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID)+":"))}
}

// refreshWithScope refreshes in the encoding the target accepts, asking for
// scope (RFC 6749 §6).
func refreshWithScope(ctx SpecContext, rt, scope string) *wire.Exchange {
	GinkgoHelper()
	c := client()
	fields := []string{"client_id", c.ClientID, "grant_type", "refresh_token", "refresh_token", rt}
	if scope != "" {
		fields = append(fields, "scope", scope)
	}
	if refreshEncoding(ctx) == wire.EncodingForm {
		return c.Do(ctx, http.MethodPost, c.Endpoints.RefreshURL, "application/x-www-form-urlencoded", wire.OrderedForm(fields...), nil)
	}
	body := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		body[fields[i]] = fields[i+1]
	}
	b, _ := json.Marshal(body)
	return c.Do(ctx, http.MethodPost, c.Endpoints.RefreshURL, "application/json", string(b), nil)
}

// suspendAutoApproval switches a mock-mode issuer's self-approval off for
// the spec, where its admin API allows it, so that "nobody is signed in"
// can be observed.
func suspendAutoApproval(ctx SpecContext) {
	if target.Admin == nil {
		return
	}
	if s, err := target.Admin.State(ctx); err == nil && s.AutoApprove != "" && adminHasSettings(ctx, target.Admin) {
		Expect(target.Admin.SetAutoApprove(ctx, false)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(target.Admin.SetAutoApprove(ctx, true)).To(Succeed()) })
	}
}

// promptNoneErrors are the answers OIDC Core §3.1.2.6 defines for a
// prompt=none request that needs the user.
var promptNoneErrors = []string{"login_required", "interaction_required", "consent_required", "account_selection_required"}

var _ = Describe("OpenID Connect for standard clients", func() {
	auth := needs(harness.CapAuthorize)
	redirect := wire.CodexRedirect(1455)

	Requirement("CDX-OIDC-001", auth, func(ctx SpecContext) {
		nonce := wire.NewState()
		toks := givenTokens(ctx, givenAuthorizedWith(ctx, redirect, "nonce", nonce))
		Expect(jwtClaims(toks.IDToken, "the id_token")).To(HaveKeyWithValue("nonce", nonce),
			"the id_token does not carry the nonce of the authorization request (OIDC Core §3.1.3.7)")
	})

	Requirement("CDX-OIDC-002", auth, func(ctx SpecContext) {
		nonce := wire.NewState()
		a := givenAuthorizedWith(ctx, redirect, "nonce", nonce)
		clock := target.Caps(harness.CapClock)
		if clock { // the code is redeemed a minute after the user signed in (codes live longer: RFC 6749 §4.1.2)
			Expect(target.Advance(ctx, 61*time.Second)).To(Succeed())
		}
		toks := givenTokens(ctx, a)
		first := jwtClaims(toks.IDToken, "the id_token")
		authTime, iat := intClaim(first, "auth_time"), intClaim(first, "iat")
		Expect(authTime).To(BeNumerically("<=", iat), "auth_time %d lies after the id_token's iat %d", authTime, iat)
		if clock {
			Expect(authTime).To(BeNumerically("<=", iat-60),
				"auth_time %d is the time of the code exchange (iat %d), not of the sign-in a minute before", authTime, iat)
		}
		// Time passes before the refresh: an auth_time that follows the
		// issue time moves with it.
		wait := 1100 * time.Millisecond
		if clock {
			wait = 2 * time.Minute
		}
		Expect(target.Advance(ctx, wait)).To(Succeed())
		r := givenRefresh(ctx, toks.RefreshToken, "proactive_expiry")
		if r.IDToken == "" {
			notRun("the refresh answered no id_token (OIDC Core §12.2 allows that), so there is no auth_time to compare")
		}
		again := jwtClaims(r.IDToken, "the refreshed id_token")
		Expect(intClaim(again, "auth_time")).To(Equal(authTime),
			"the refreshed id_token's auth_time differs from the original's (OIDC Core §12.2: the time of the original authentication)")
		if n, ok := again["nonce"]; ok {
			Expect(n).To(Equal(nonce), "the refreshed id_token carries a nonce other than the original's (OIDC Core §12.2)")
		}
	})

	Requirement("CDX-OIDC-003", nil, func(ctx SpecContext) {
		givenAuthorizeAnswers(ctx, client().AuthorizeURL(redirect, wire.NewPKCE(), wire.NewState()))
		suspendAutoApproval(ctx)
		state := wire.NewState()
		u := client().AuthorizeURL(redirect, wire.NewPKCE(), state, "prompt", "none")
		ex := client().Get(ctx, u[len(target.Issuer):], nil) // no cookie: nobody is signed in
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status/100).To(Equal(3), "prompt=none without a session was answered with a page, not a redirect: %s", ex)
		cb, err := wire.ParseCallback(ex.Header.Get("Location"), redirect)
		Expect(err).NotTo(HaveOccurred(), "prompt=none without a session must redirect to the client (OIDC Core §3.1.2.6), not to %q", ex.Header.Get("Location"))
		if cb.Code != "" {
			why := "no admin API is at hand to suspend that"
			if target.Admin != nil {
				why = "its admin API cannot suspend that"
			}
			notRun("the issuer signs users in by itself (mock mode) and %s, so a request without a session could not be observed", why)
		}
		Expect(cb.Error).To(BeElementOf(promptNoneErrors), "prompt=none without a session: error=%q (%s), want login_required", cb.Error, cb.ErrDesc)
		Expect(cb.State).To(Equal(state), "the error redirect does not return state unchanged")
		if !target.Caps(harness.CapAuthorize) {
			return
		}
		givenAuthorized(ctx, redirect) // signs the approver's user in
		loc, err := target.Approver.Authorize(ctx, client().AuthorizeURL(redirect, wire.NewPKCE(), wire.NewState(), "prompt", "none"), redirect)
		Expect(err).NotTo(HaveOccurred(), "prompt=none for a signed-in user")
		signed, err := wire.ParseCallback(loc, redirect)
		Expect(err).NotTo(HaveOccurred())
		Expect(signed.Code).NotTo(BeEmpty(), "prompt=none for a signed-in user gave no code: error=%q %s", signed.Error, signed.ErrDesc)
	})

	Requirement("CDX-OIDC-004", nil, func(ctx SpecContext) {
		c := client()
		if ex := c.RevokeForm(ctx, login(ctx).RefreshToken, "refresh_token"); ex.Err != nil || ex.Status/100 != 2 {
			blockedBy("CDX-REVOKE-006", "a form revocation with token_type_hint=refresh_token failed: %s", ex)
		}
		rt := login(ctx).RefreshToken
		ex := c.Do(ctx, http.MethodPost, c.Endpoints.RevokeURL, "application/x-www-form-urlencoded",
			wire.OrderedForm("token", rt, "token_type_hint", "id_token", "client_id", c.ClientID), nil)
		expectStatus(ex, 200)
		expectRefreshRefused(ctx, rt, "a refresh token revoked with token_type_hint=id_token")
	})

	Requirement("CDX-OIDC-005", auth, func(ctx SpecContext) {
		givenTokens(ctx, givenAuthorized(ctx, redirect)) // the client id in the body works
		a := givenAuthorized(ctx, redirect)
		c := client()
		ex := c.Do(ctx, http.MethodPost, c.Issuer+"/oauth/token", "application/x-www-form-urlencoded",
			wire.OrderedForm("grant_type", "authorization_code", "code", a.cb.Code, "redirect_uri", redirect, "code_verifier", a.pkce.Verifier),
			basicClient(c.ClientID))
		Expect(ex.Err).NotTo(HaveOccurred())
		if ex.Status == http.StatusUnauthorized && wire.ErrorCode(ex.Body) == "invalid_client" {
			return // RFC 6749 §5.2: libraries then retry with the id in the body
		}
		expectStatus(ex, 200)
		_, err := wire.ParseTokens(ex)
		Expect(err).NotTo(HaveOccurred(), "%s", ex)
	})

	Requirement("CDX-OIDC-006", nil, func(ctx SpecContext) {
		ui, _ := givenDiscovery(ctx)["userinfo_endpoint"].(string)
		Expect(ui).NotTo(BeEmpty(), "discovery names no userinfo_endpoint (OIDC Discovery §3)")
		t := login(ctx)
		sub := jwtClaims(t.IDToken, "the id_token")["sub"]
		bearer := map[string]string{"Authorization": "Bearer " + t.AccessToken}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			ex := client().Do(ctx, method, ui, "", "", bearer)
			expectStatus(ex, 200)
			Expect(ex.JSON()).NotTo(BeNil(), "userinfo is not a JSON object: %s", ex)
			Expect(ex.JSON()["sub"]).To(Equal(sub), "userinfo's sub differs from the id_token's (OIDC Core §5.3.2): %s", ex)
		}
		expectStatus(client().Do(ctx, http.MethodGet, ui, "", "", nil), 401)
	})

	Requirement("CDX-OIDC-007", nil, func(ctx SpecContext) {
		oidc := givenDiscovery(ctx)
		base, err := url.Parse(target.Issuer)
		Expect(err).NotTo(HaveOccurred())
		// RFC 8414 §3.1 inserts the well-known segment before the issuer's
		// path; many deployments also serve it under the path.
		locations := []string{base.Scheme + "://" + base.Host + "/.well-known/oauth-authorization-server" + base.Path}
		if base.Path != "" {
			locations = append(locations, target.Issuer+"/.well-known/oauth-authorization-server")
		}
		var meta map[string]any
		var tried []string
		for _, loc := range locations {
			ex := client().Do(ctx, http.MethodGet, loc, "", "", nil)
			if ex.Err == nil && ex.Status == 200 && ex.JSON() != nil {
				meta = ex.JSON()
				break
			}
			tried = append(tried, ex.String())
		}
		Expect(meta).NotTo(BeNil(), "no RFC 8414 metadata: %v", tried)
		Expect(meta).To(HaveKeyWithValue("issuer", target.Issuer), "RFC 8414 §3.3: issuer must be the issuer identifier")
		for _, k := range []string{"authorization_endpoint", "token_endpoint"} {
			Expect(meta[k]).To(Equal(oidc[k]), "%s differs from OpenID discovery's", k)
		}
	})

	Requirement("CDX-OIDC-008", nil, func(ctx SpecContext) {
		t := login(ctx)
		narrowed := refreshWithScope(ctx, t.RefreshToken, "openid")
		expectStatus(narrowed, 200)
		rt := narrowed.Str("refresh_token")
		if rt == "" {
			rt = t.RefreshToken
		}
		broader := refreshWithScope(ctx, rt, "openid codexauth.conformance.never-granted")
		Expect(broader.Err).NotTo(HaveOccurred())
		Expect(broader.Status).To(Equal(400), "a refresh asking for a scope never granted: %s", broader)
		Expect(wire.ErrorCode(broader.Body)).To(Equal("invalid_scope"), "%s", broader)
		expectStatus(refreshWithScope(ctx, rt, ""), 200)
	})
})
