package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness/wire"
)

var _ = Describe("Revocation (logout)", func() {
	Requirement("CDX-REVOKE-001", nil, func(ctx SpecContext) {
		t := login(ctx)
		expectStatus(client().Revoke(ctx, t.RefreshToken, "refresh_token"), 200, 204)
	})
	Requirement("CDX-REVOKE-002", nil, func(ctx SpecContext) {
		t := login(ctx)
		expectStatus(client().Revoke(ctx, t.RefreshToken, "refresh_token"), 200, 204)
		ex := client().Refresh(ctx, t.RefreshToken, "proactive_expiry")
		Expect(ex.Status).NotTo(Equal(200), "a revoked refresh token still refreshes: %s", ex)
	})
	Requirement("CDX-REVOKE-003", nil, func(ctx SpecContext) {
		old, newest := rotated(ctx)
		expectStatus(client().Revoke(ctx, old, "refresh_token"), 200, 204)
		ex := client().Refresh(ctx, newest, "proactive_expiry")
		Expect(ex.Status).NotTo(Equal(200), "revoking a token of the family left its newest token working: %s", ex)
	})
	Requirement("CDX-REVOKE-004", nil, func(ctx SpecContext) {
		t := login(ctx)
		expectStatus(client().Revoke(ctx, t.AccessToken, "access_token"), 200, 204)
	})
	Requirement("CDX-REVOKE-005", nil, func(ctx SpecContext) {
		expectStatus(client().Revoke(ctx, "rt_unknown_"+wire.NewState(), "refresh_token"), 200)
	})
	Requirement("CDX-REVOKE-006", nil, func(ctx SpecContext) {
		t := login(ctx)
		ex := client().PostForm(ctx, "/oauth/revoke", "token", t.RefreshToken, "token_type_hint", "refresh_token", "client_id", client().ClientID)
		expectStatus(ex, 200, 204)
		Expect(client().Refresh(ctx, t.RefreshToken, "forced").Status).NotTo(Equal(200))
	})
})
