package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness/wire"
)

// givenRevoke revokes a refresh token as codex's logout does, as a step
// (blocked by CDX-REVOKE-001).
func givenRevoke(ctx SpecContext, rt string) {
	GinkgoHelper()
	if ex := client().Revoke(ctx, rt, "refresh_token"); ex.Err != nil || ex.Status/100 != 2 {
		blockedBy("CDX-REVOKE-001", "codex's JSON revoke of a live refresh token failed: %s", ex)
	}
}

// expectRefreshRefused asserts a refresh of rt no longer works, in the
// encoding the target accepts.
func expectRefreshRefused(ctx SpecContext, rt, what string) {
	GinkgoHelper()
	ex := refreshAny(ctx, rt, "proactive_expiry")
	Expect(ex.Err).NotTo(HaveOccurred())
	Expect(ex.Status).NotTo(Equal(200), "%s still refreshes: %s", what, ex)
}

var _ = Describe("Revocation (logout)", func() {
	Requirement("CDX-REVOKE-001", nil, func(ctx SpecContext) {
		t := login(ctx)
		expectStatus(client().Revoke(ctx, t.RefreshToken, "refresh_token"), 200, 204)
	})
	Requirement("CDX-REVOKE-002", nil, func(ctx SpecContext) {
		// The token refreshes before the logout (same encoding), and not after.
		rt := refreshedToken(ctx)
		givenRevoke(ctx, rt)
		expectRefreshRefused(ctx, rt, "a logged-out refresh token")
	})
	Requirement("CDX-REVOKE-003", nil, func(ctx SpecContext) {
		old, newest := rotated(ctx)
		givenRevoke(ctx, old)
		expectRefreshRefused(ctx, newest, "after revoking a token of the family, its newest token")
	})
	Requirement("CDX-REVOKE-004", nil, func(ctx SpecContext) {
		t := login(ctx)
		expectStatus(client().Revoke(ctx, t.AccessToken, "access_token"), 200, 204)
	})
	Requirement("CDX-REVOKE-005", nil, func(ctx SpecContext) {
		givenRevoke(ctx, login(ctx).RefreshToken) // the endpoint revokes real tokens
		expectStatus(client().Revoke(ctx, "rt_unknown_"+wire.NewState(), "refresh_token"), 200)
	})
	Requirement("CDX-REVOKE-006", nil, func(ctx SpecContext) {
		rt := refreshedToken(ctx)
		ex := client().RevokeForm(ctx, rt, "refresh_token")
		expectStatus(ex, 200, 204)
		expectRefreshRefused(ctx, rt, "a refresh token revoked with a form body")
	})
})
