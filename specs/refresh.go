package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// refreshOK performs codex's refresh and requires a 2xx codex can persist.
func refreshOK(ctx SpecContext, rt, reason string) wire.RefreshResult {
	GinkgoHelper()
	ex := client().Refresh(ctx, rt, reason)
	expectStatus(ex, 200)
	r, err := wire.ParseRefresh(ex)
	Expect(err).NotTo(HaveOccurred(), "%s", ex)
	return r
}

// next is the refresh token codex holds after a refresh answer (§6.4: kept
// when the answer has none).
func next(old string, r wire.RefreshResult) string {
	if r.RefreshToken != "" {
		return r.RefreshToken
	}
	return old
}

func accountOf(idToken string) string {
	info, _ := wire.ParseIDToken(idToken)
	return info.AccountID
}

var _ = Describe("Refresh", func() {
	Requirement("CDX-REFRESH-001", nil, func(ctx SpecContext) {
		t := login(ctx)
		refreshOK(ctx, t.RefreshToken, "proactive_expiry")
	})
	Requirement("CDX-REFRESH-002", nil, func(ctx SpecContext) {
		t := login(ctx)
		rt := t.RefreshToken
		for _, reason := range []string{"proactive_expiry", "scheduled", "forced", "unauthorized_recovery"} {
			rt = next(rt, refreshOK(ctx, rt, reason))
		}
	})
	Requirement("CDX-REFRESH-003", nil, func(ctx SpecContext) {
		t := login(ctx)
		ex := client().Refresh(ctx, t.RefreshToken, "forced")
		expectStatus(ex, 200)
		_, err := wire.ParseRefresh(ex)
		Expect(err).NotTo(HaveOccurred())
	})
	Requirement("CDX-REFRESH-004", nil, func(ctx SpecContext) {
		t := login(ctx)
		r := refreshOK(ctx, t.RefreshToken, "forced")
		Expect(r.RefreshToken).NotTo(BeEmpty(), "no refresh_token in the answer: the old one stays in use forever")
		Expect(r.RefreshToken).NotTo(Equal(t.RefreshToken), "the refresh token did not rotate")
	})
	Requirement("CDX-REFRESH-005", nil, func(ctx SpecContext) {
		t := login(ctx)
		Expect(target.Advance(ctx, 0)).To(Succeed())
		old, err := wire.AccessExp(t.AccessToken)
		Expect(err).NotTo(HaveOccurred())
		if target.Caps(harness.CapClock) {
			Expect(target.Admin.Advance(ctx, 60e9)).To(Succeed())
		}
		r := refreshOK(ctx, t.RefreshToken, "forced")
		Expect(r.AccessToken).NotTo(BeEmpty(), "no access_token in the answer")
		exp, err := wire.AccessExp(r.AccessToken)
		Expect(err).NotTo(HaveOccurred())
		Expect(exp).To(BeNumerically(">=", old), "the new access token expires before the old one")
	})
	Requirement("CDX-REFRESH-006", needs(harness.CapExpiry), func(ctx SpecContext) {
		t := login(ctx)
		Expect(target.IntoRefreshWindow(ctx, t.AccessToken)).To(Succeed())
		r := refreshOK(ctx, t.RefreshToken, "proactive_expiry")
		exp, err := wire.AccessExp(r.AccessToken)
		Expect(err).NotTo(HaveOccurred())
		now := target.IssuerNow(ctx).Unix()
		Expect(exp-now).To(BeNumerically(">", int64(harness.CodexWindow.Seconds())),
			"the refreshed access token expires in %d s, still inside codex's window: codex would refresh again on every command", exp-now)
		if r.RefreshToken != "" && r.RefreshToken != t.RefreshToken {
			// Rotation happened; the new token must work too.
			refreshOK(ctx, r.RefreshToken, "proactive_expiry")
		}
	})
	Requirement("CDX-REFRESH-007", nil, func(ctx SpecContext) {
		t := login(ctx)
		rt := t.RefreshToken
		for i := 0; i < 5; i++ {
			rt = next(rt, refreshOK(ctx, rt, "unauthorized_recovery"))
		}
	})
	Requirement("CDX-REFRESH-008", nil, func(ctx SpecContext) {
		t := login(ctx)
		r := refreshOK(ctx, t.RefreshToken, "forced")
		if r.IDToken != "" {
			Expect(accountOf(r.IDToken)).To(Equal(accountOf(t.IDToken)))
		}
		at, err := wire.DecodeJWTPayload(r.AccessToken)
		if err == nil {
			a, _ := authObject(at)
			Expect(a["chatgpt_account_id"]).To(Equal(accountOf(t.IDToken)))
		}
	})
	Requirement("CDX-REFRESH-009", nil, func(ctx SpecContext) {
		ex := client().Refresh(ctx, "rt_unknown_"+wire.NewState(), "proactive_expiry")
		Expect(ex.Err).NotTo(HaveOccurred())
		class, _ := wire.ClassifyRefresh(ex.Status, ex.Body)
		Expect(class).To(Equal(wire.RefreshPermanent), "codex would keep retrying an unknown token: %s", ex)
	})
})
