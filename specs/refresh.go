package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// refreshOK refreshes as the subject of a spec and requires a 2xx codex can
// persist. It uses the encoding the target accepts: only CDX-REFRESH-001 and
// -002 are about codex's JSON body itself.
func refreshOK(ctx SpecContext, rt, reason string) wire.RefreshResult {
	GinkgoHelper()
	ex := refreshAny(ctx, rt, reason)
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

// refreshedToken signs in and refreshes once: a token proven to refresh
// (in the encoding the target accepts), for specs that then take it away.
func refreshedToken(ctx SpecContext) string {
	GinkgoHelper()
	t := login(ctx)
	return next(t.RefreshToken, givenRefresh(ctx, t.RefreshToken, "forced"))
}

// refreshResult parses a 200 refresh as a step (blocked by CDX-REFRESH-003).
func refreshResult(ex *wire.Exchange) wire.RefreshResult {
	GinkgoHelper()
	r, err := wire.ParseRefresh(ex)
	if err != nil {
		blockedBy("CDX-REFRESH-003", "%v: %s", err, ex)
	}
	return r
}

func accountOf(idToken string) string {
	info, _ := wire.ParseIDToken(idToken)
	return info.AccountID
}

var _ = Describe("Refresh", func() {
	Requirement("CDX-REFRESH-001", nil, func(ctx SpecContext) {
		t := login(ctx)
		ex := client().Refresh(ctx, t.RefreshToken, "proactive_expiry") // codex's JSON, exactly
		expectStatus(ex, 200)                                           // what the answer holds is CDX-REFRESH-003's
	})
	Requirement("CDX-REFRESH-002", nil, func(ctx SpecContext) {
		rt := login(ctx).RefreshToken
		for i, reason := range []string{"proactive_expiry", "scheduled", "forced", "unauthorized_recovery"} {
			ex := client().Refresh(ctx, rt, reason)
			if i == 0 && (ex.Err != nil || ex.Status != 200) {
				blockedBy("CDX-REFRESH-001", "codex's JSON refresh fails already with refresh_reason %s: %s", reason, ex)
			}
			expectStatus(ex, 200)
			if got := ex.Str("refresh_token"); got != "" {
				rt = got
			}
		}
	})
	Requirement("CDX-REFRESH-003", nil, func(ctx SpecContext) {
		t := login(ctx)
		ex := refreshAny(ctx, t.RefreshToken, "forced")
		if ex.Err != nil || ex.Status != 200 {
			blockedBy("CDX-REFRESH-001", "a refresh with a valid token failed: %s", ex)
		}
		_, err := wire.ParseRefresh(ex)
		Expect(err).NotTo(HaveOccurred())
	})
	Requirement("CDX-REFRESH-004", nil, func(ctx SpecContext) {
		t := login(ctx)
		r := givenRefresh(ctx, t.RefreshToken, "forced")
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
		r := givenRefresh(ctx, t.RefreshToken, "forced")
		Expect(r.AccessToken).NotTo(BeEmpty(), "no access_token in the answer")
		exp, err := wire.AccessExp(r.AccessToken)
		Expect(err).NotTo(HaveOccurred())
		Expect(exp).To(BeNumerically(">=", old), "the new access token expires before the old one")
	})
	Requirement("CDX-REFRESH-006", needs(harness.CapExpiry), func(ctx SpecContext) {
		t := login(ctx)
		if err := target.IntoRefreshWindow(ctx, t.AccessToken); err != nil {
			notRun("%v", err)
		}
		r := givenRefresh(ctx, t.RefreshToken, "proactive_expiry")
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
		rt := next(t.RefreshToken, givenRefresh(ctx, t.RefreshToken, "unauthorized_recovery"))
		for i := 0; i < 4; i++ {
			rt = next(rt, refreshOK(ctx, rt, "unauthorized_recovery"))
		}
	})
	Requirement("CDX-REFRESH-008", nil, func(ctx SpecContext) {
		t := login(ctx)
		r := givenRefresh(ctx, t.RefreshToken, "forced")
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
		givenRefresh(ctx, login(ctx).RefreshToken, "forced") // a valid token refreshes in this encoding
		ex := refreshAny(ctx, "rt_unknown_"+wire.NewState(), "proactive_expiry")
		Expect(ex.Err).NotTo(HaveOccurred())
		class, _ := wire.ClassifyRefresh(ex.Status, ex.Body)
		Expect(class).To(Equal(wire.RefreshPermanent), "codex would keep retrying an unknown token: %s", ex)
	})
	Requirement("CDX-REFRESH-010", nil, func(ctx SpecContext) {
		// A chain of refreshes; wherever one is answered 5xx, codex retries
		// with the token it still holds. That retry must not find the token
		// rotated out: the user would be logged out over a server error.
		rt := login(ctx).RefreshToken
		enc := wire.EncodingJSON
		for i := 0; i < 6; i++ {
			ex := client().RefreshEncoded(ctx, enc, rt, "proactive_expiry")
			Expect(ex.Err).NotTo(HaveOccurred())
			if i == 0 && ex.Status/100 == 4 {
				enc = wire.EncodingForm // an issuer refusing JSON (CDX-REFRESH-001) is judged with forms
				ex = client().RefreshEncoded(ctx, enc, rt, "proactive_expiry")
			}
			if ex.Status/100 == 5 {
				retry := client().RefreshEncoded(ctx, enc, rt, "proactive_expiry")
				class, why := wire.ClassifyRefresh(retry.Status, retry.Body)
				Expect(class).NotTo(Equal(wire.RefreshPermanent),
					"refresh %d was answered %d, and codex's retry with the same token was refused for good (%s): the rotation had been committed behind the server error, and the user is logged out: %s", i+1, ex.Status, why, retry)
				if retry.Status != 200 {
					continue // still failing transiently: the token is kept
				}
				ex = retry
			}
			if ex.Status != 200 {
				blockedBy("CDX-REFRESH-001", "refresh %d failed: %s", i+1, ex)
			}
			rt = next(rt, refreshResult(ex))
		}
	})
})
