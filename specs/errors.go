package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// permanentCodes are the answers codex treats as final for a refresh.
func expectTransient(ex *wire.Exchange, what string) {
	GinkgoHelper()
	class, reason := wire.ClassifyRefresh(ex.Status, ex.Body)
	Expect(class).To(Equal(wire.RefreshTransient),
		"%s was answered as a permanent failure (%s): codex would log the user out over a passing outage: %s", what, reason, ex)
}

var _ = Describe("Error classification and resilience", func() {
	Requirement("CDX-ERR-001", needs(harness.CapRefreshExpiry), func(ctx SpecContext) {
		t := login(ctx)
		refreshEncoding(ctx) // a valid token refreshes in this encoding
		s, err := target.Admin.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(target.Advance(ctx, time.Duration(s.RefreshTTL*float64(time.Second))+time.Minute)).To(Succeed())
		ex := refreshAny(ctx, t.RefreshToken, "proactive_expiry")
		Expect(wire.ErrorCode(ex.Body)).To(Equal("refresh_token_expired"), "%s", ex)
	})
	Requirement("CDX-ERR-002", nil, func(ctx SpecContext) {
		rt := refreshedToken(ctx)
		givenRevoke(ctx, rt)
		ex := refreshAny(ctx, rt, "proactive_expiry")
		Expect(wire.ErrorCode(ex.Body)).To(Equal("refresh_token_invalidated"), "%s", ex)
	})
	Requirement("CDX-ERR-003", needs(harness.CapOutage), func(ctx SpecContext) {
		t := login(ctx)
		enc := refreshEncoding(ctx)
		Expect(target.Admin.Outage(ctx, true)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(target.Admin.Outage(ctx, false)).To(Succeed()) })
		expectTransient(client().RefreshEncoded(ctx, enc, t.RefreshToken, "proactive_expiry"), "a refresh during a store outage")
	})
	Requirement("CDX-ERR-004", needs(harness.CapOutage), func(ctx SpecContext) {
		t := login(ctx)
		enc := refreshEncoding(ctx)
		Expect(target.Admin.Outage(ctx, true)).To(Succeed())
		client().RefreshEncoded(ctx, enc, t.RefreshToken, "proactive_expiry")
		Expect(target.Admin.Outage(ctx, false)).To(Succeed())
		refreshOK(ctx, t.RefreshToken, "proactive_expiry")
	})
	Requirement("CDX-ERR-005", nil, func(ctx SpecContext) {
		givenRefresh(ctx, login(ctx).RefreshToken, "forced") // the endpoint refreshes valid tokens
		ex := refreshAny(ctx, "rt_unknown_"+wire.NewState(), "forced")
		Expect(ex.Status).To(BeNumerically(">=", 400))
		Expect(wire.ErrorCode(ex.Body)).NotTo(BeEmpty(), "no error code codex can read: %s", ex)
	})
	Requirement("CDX-ERR-006", nil, func(ctx SpecContext) {
		login(ctx) // the token endpoint answers well-formed requests
		bodies := []struct{ ct, body string }{
			{"application/json", `{"grant_type":`},
			{"application/json", `[]`},
			{"application/json", `{"grant_type":"refresh_token","refresh_token":5}`},
			{"application/x-www-form-urlencoded", "grant_type=%zz"},
			{"application/x-www-form-urlencoded", ""},
			{"text/plain", "grant_type=refresh_token"},
		}
		for _, b := range bodies {
			ex := client().PostJSON(ctx, "/oauth/token", b.body, map[string]string{"Content-Type": b.ct})
			Expect(ex.Err).NotTo(HaveOccurred())
			Expect(ex.Status).To(And(BeNumerically(">=", 400), BeNumerically("<", 500)), "%q as %s: %s", b.body, b.ct, ex)
		}
	})
	Requirement("CDX-ERR-007", nil, func(ctx SpecContext) {
		ex := client().PostForm(ctx, "/oauth/token", "grant_type", "password", "username", "alice", "password", "x")
		expectStatus(ex, 400)
		Expect(wire.ErrorCode(ex.Body)).To(Equal("unsupported_grant_type"))
	})
	Requirement("CDX-ERR-008", needs(harness.CapOutage), func(ctx SpecContext) {
		Expect(target.Admin.Outage(ctx, true)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(target.Admin.Outage(ctx, false)).To(Succeed()) })
		ex := client().Get(ctx, "/readyz", nil)
		Expect(ex.Status).To(Equal(503), "%s", ex)
	})
})
