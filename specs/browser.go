package specs

import (
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

type authorized struct {
	pkce     wire.PKCE
	state    string
	redirect string
	cb       wire.Callback
}

// authorize runs codex's authorize URL through the approver and parses the
// callback, failing when no code comes back.
func authorize(ctx SpecContext, redirect string, extra ...string) authorized {
	GinkgoHelper()
	a := authorized{pkce: wire.NewPKCE(), state: wire.NewState(), redirect: redirect}
	loc, err := target.Approver.Authorize(ctx, client().AuthorizeURL(redirect, a.pkce, a.state, extra...), redirect)
	Expect(err).NotTo(HaveOccurred(), "authorize with redirect_uri %s", redirect)
	a.cb, err = wire.ParseCallback(loc, redirect)
	Expect(err).NotTo(HaveOccurred())
	Expect(a.cb.Error).To(BeEmpty(), "authorize answered error=%s: %s", a.cb.Error, a.cb.ErrDesc)
	Expect(a.cb.Code).NotTo(BeEmpty(), "no code in the callback %s", loc)
	return a
}

// givenAuthorized runs authorize as a step (blocked by CDX-BROWSER-001).
func givenAuthorized(ctx SpecContext, redirect string) authorized {
	GinkgoHelper()
	a := authorized{pkce: wire.NewPKCE(), state: wire.NewState(), redirect: redirect}
	loc, err := target.Approver.Authorize(ctx, client().AuthorizeURL(redirect, a.pkce, a.state), redirect)
	if err == nil {
		a.cb, err = wire.ParseCallback(loc, redirect)
	}
	if err != nil || a.cb.Code == "" {
		blockedBy("CDX-BROWSER-001", "codex's authorize URL gave no code: %v %s", err, a.cb.Error)
	}
	return a
}

// browserSignIn authorizes and redeems a fresh code, paced as a sign-in
// (see harness.Target.SignIn).
func browserSignIn(ctx SpecContext, redirect string) (authorized, *wire.Exchange) {
	GinkgoHelper()
	var a authorized
	var ex *wire.Exchange
	target.SignIn(ctx, func() int {
		a = givenAuthorized(ctx, redirect)
		ex = a.exchange(ctx)
		return ex.Status
	})
	return a, ex
}

// givenBrowserSignIn is browserSignIn as a step (blocked by
// CDX-BROWSER-005).
func givenBrowserSignIn(ctx SpecContext) (authorized, wire.Tokens) {
	GinkgoHelper()
	a, ex := browserSignIn(ctx, wire.CodexRedirect(1455))
	toks, err := wire.ParseTokens(ex)
	if ex.Err != nil || ex.Status != 200 || err != nil {
		blockedBy("CDX-BROWSER-005", "redeeming a code with its verifier and redirect_uri failed: %s", ex)
	}
	return a, toks
}

func (a authorized) exchange(ctx SpecContext) *wire.Exchange {
	return client().ExchangeCode(ctx, a.cb.Code, a.redirect, a.pkce.Verifier)
}

func expectRefused(ex *wire.Exchange, what string) {
	GinkgoHelper()
	Expect(ex.Err).NotTo(HaveOccurred())
	Expect(ex.Status).To(And(BeNumerically(">=", 400), BeNumerically("<", 500)), "%s was not refused with a 4xx: %s", what, ex)
}

var _ = Describe("Browser login (authorization code + PKCE)", func() {
	auth := needs(harness.CapAuthorize)
	Requirement("CDX-BROWSER-001", auth, func(ctx SpecContext) {
		authorize(ctx, wire.CodexRedirect(1455))
	})
	Requirement("CDX-BROWSER-002", auth, func(ctx SpecContext) {
		a := authorize(ctx, wire.CodexRedirect(1455))
		Expect(a.cb.State).To(Equal(a.state), "codex answers \"State mismatch\" unless state comes back unchanged")
	})
	Requirement("CDX-BROWSER-003", auth, func(ctx SpecContext) {
		authorize(ctx, wire.CodexRedirect(1457))
	})
	Requirement("CDX-BROWSER-004", auth, func(ctx SpecContext) {
		authorize(ctx, "http://localhost:1455/auth/callback")
	})
	Requirement("CDX-BROWSER-005", auth, func(ctx SpecContext) {
		_, ex := browserSignIn(ctx, wire.CodexRedirect(1455))
		expectStatus(ex, 200)
		_, err := wire.ParseTokens(ex)
		Expect(err).NotTo(HaveOccurred())
	})
	Requirement("CDX-BROWSER-006", auth, func(ctx SpecContext) {
		givenBrowserSignIn(ctx) // the right verifier works
		a := givenAuthorized(ctx, wire.CodexRedirect(1455))
		expectRefused(client().ExchangeCode(ctx, a.cb.Code, a.redirect, wire.NewPKCE().Verifier), "a code with a wrong code_verifier")
	})
	Requirement("CDX-BROWSER-007", auth, func(ctx SpecContext) {
		a, _ := givenBrowserSignIn(ctx)
		expectRefused(a.exchange(ctx), "a second redemption of the code")
	})
	Requirement("CDX-BROWSER-008", auth, func(ctx SpecContext) {
		givenBrowserSignIn(ctx) // the right redirect_uri works
		a := givenAuthorized(ctx, wire.CodexRedirect(1455))
		expectRefused(client().ExchangeCode(ctx, a.cb.Code, wire.CodexRedirect(1457), a.pkce.Verifier), "a code redeemed with another redirect_uri")
	})
	Requirement("CDX-BROWSER-009", nil, func(ctx SpecContext) {
		givenAuthorizeAnswers(ctx, client().AuthorizeURL(wire.CodexRedirect(1455), wire.NewPKCE(), wire.NewState()))
		evil := "http://127.0.0.1:9/auth/callback"
		u := client().AuthorizeURL(evil, wire.NewPKCE(), wire.NewState())
		// Whatever the approver does, the browser must never be sent to evil.
		loc, err := target.Approver.Authorize(ctx, u, evil)
		if err == nil {
			Expect(loc).NotTo(HavePrefix(evil), "the issuer redirected to an unregistered redirect_uri")
		}
		ex := client().Get(ctx, u[len(target.Issuer):], nil)
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Header.Get("Location")).NotTo(HavePrefix(evil), "the issuer redirected to an unregistered redirect_uri: %s", ex)
	})
	Requirement("CDX-BROWSER-010", auth, func(ctx SpecContext) {
		givenAuthorized(ctx, wire.CodexRedirect(1455)) // S256 gets a code
		redirect := wire.CodexRedirect(1455)
		q := url.Values{"response_type": {"code"}, "client_id": {client().ClientID}, "redirect_uri": {redirect},
			"code_challenge": {wire.NewPKCE().Verifier}, "code_challenge_method": {"plain"}, "state": {"s"}, "scope": {wire.CodexScope}}
		loc, err := target.Approver.Authorize(ctx, target.Issuer+"/oauth/authorize?"+q.Encode(), redirect)
		if err != nil {
			return // refused before any redirect: fine
		}
		cb, err := wire.ParseCallback(loc, redirect)
		Expect(err).NotTo(HaveOccurred())
		Expect(cb.Code).To(BeEmpty(), "a plain PKCE request was granted a code")
	})
	Requirement("CDX-BROWSER-011", auth, func(ctx SpecContext) {
		_, toks := givenBrowserSignIn(ctx)
		key := client().ExchangeAPIKey(ctx, toks.IDToken)
		expectStatus(key, 200)
		Expect(key.Str("access_token")).NotTo(BeEmpty(), "%s", key)
	})
	Requirement("CDX-BROWSER-012", auth, func(ctx SpecContext) {
		authorize(ctx, wire.CodexRedirect(1455), "allowed_workspace_id", "ws-a,ws-b", "login_hint", "alice@example.com", "current_workspace_id", "ws-a")
	})
	Requirement("CDX-BROWSER-013", nil, func(ctx SpecContext) {
		ex := client().ExchangeCode(ctx, "ac_not_a_code_"+wire.NewState(), wire.CodexRedirect(1455), wire.NewPKCE().Verifier)
		expectRefused(ex, "an unknown code")
		Expect(ex.JSON()).NotTo(BeNil(), "error body is not JSON: codex shows the raw body")
		Expect(wire.DeviceTokenDisplay(ex.Body)).NotTo(Equal(string(ex.Body)), "codex finds no error_description, error.message or error to show")
	})
	Requirement("CDX-BROWSER-014", auth, func(ctx SpecContext) {
		redirect := wire.CodexRedirect(1455)
		givenAuthorized(ctx, redirect) // the registered client gets a code
		stranger := wire.NewClient(target.Issuer, "app_unregistered_"+wire.NewState()[:12])
		u := stranger.AuthorizeURL(redirect, wire.NewPKCE(), wire.NewState())
		if loc, err := target.Approver.Authorize(ctx, u, redirect); err == nil {
			if cb, err := wire.ParseCallback(loc, redirect); err == nil {
				Expect(cb.Code).To(BeEmpty(), "an unregistered client_id was given an authorization code: %s", loc)
			}
		}
		ex := client().Get(ctx, u[len(target.Issuer):], nil)
		Expect(ex.Err).NotTo(HaveOccurred())
		if cb, err := wire.ParseCallback(ex.Header.Get("Location"), redirect); err == nil {
			Expect(cb.Code).To(BeEmpty(), "an unregistered client_id was given an authorization code: %s", ex)
		}
	})
})

// givenAuthorizeAnswers shows the authorize endpoint serves codex's URL
// (a page or a redirect, not an error), so that a refusal means something
// (blocked by CDX-BROWSER-001).
func givenAuthorizeAnswers(ctx SpecContext, u string) {
	GinkgoHelper()
	ex := client().Get(ctx, u[len(target.Issuer):], nil)
	if ex.Err != nil || ex.Status >= 400 {
		blockedBy("CDX-BROWSER-001", "codex's authorize URL is answered with an error: %s", ex)
	}
}
