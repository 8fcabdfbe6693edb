package specs

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness/wire"
)

// rotated logs in and refreshes once: the first token is rotated out.
func rotated(ctx SpecContext) (old, newest string) {
	GinkgoHelper()
	t := login(ctx)
	r := refreshOK(ctx, t.RefreshToken, "proactive_expiry")
	if r.RefreshToken == "" || r.RefreshToken == t.RefreshToken {
		Fail("the issuer does not rotate refresh tokens (CDX-REFRESH-004), so there is no rotated-out token to present")
	}
	return t.RefreshToken, r.RefreshToken
}

// graceWindow reports the target's declared reuse grace (admin API).
func graceWindow(ctx SpecContext) float64 {
	if target.Admin == nil {
		return 0
	}
	s, err := target.Admin.State(ctx)
	if err != nil {
		return 0
	}
	return s.ReuseGrace
}

// pastGrace lets the target's reuse grace window elapse after a rotation,
// by clock control or a real wait within --max-wait; otherwise the spec
// cannot tell reuse from a legitimate retry and is not run.
func pastGrace(ctx SpecContext) {
	g := graceWindow(ctx)
	if g <= 0 {
		return
	}
	if err := target.Advance(ctx, time.Duration(g*float64(time.Second))+time.Second); err != nil {
		Skip(NotRunPrefix + "clock control or a shorter wait to get past the reuse grace window of " + fmtSeconds(g) + ": " + err.Error())
	}
}

var _ = Describe("Refresh-token reuse detection", func() {
	Requirement("CDX-REUSE-001", nil, func(ctx SpecContext) {
		old, _ := rotated(ctx)
		pastGrace(ctx)
		ex := client().Refresh(ctx, old, "proactive_expiry")
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(wire.ErrorCode(ex.Body)).To(Equal("refresh_token_reused"), "%s", ex)
	})
	Requirement("CDX-REUSE-002", nil, func(ctx SpecContext) {
		old, newest := rotated(ctx)
		pastGrace(ctx)
		client().Refresh(ctx, old, "proactive_expiry")
		ex := client().Refresh(ctx, newest, "proactive_expiry")
		class, _ := wire.ClassifyRefresh(ex.Status, ex.Body)
		Expect(class).To(Equal(wire.RefreshPermanent), "after reuse was detected the family's newest token still works: %s", ex)
	})
	Requirement("CDX-REUSE-003", nil, func(ctx SpecContext) {
		old, _ := rotated(ctx)
		pastGrace(ctx)
		ex := client().Refresh(ctx, old, "proactive_expiry")
		class, _ := wire.ClassifyRefresh(ex.Status, ex.Body)
		Expect(class).To(Equal(wire.RefreshPermanent), "a rotated-out refresh token was answered %s: %s", class, ex)
	})
	Requirement("CDX-REUSE-004", nil, func(ctx SpecContext) {
		t := login(ctx)
		const n = 16
		var wg sync.WaitGroup
		results := make([]*wire.Exchange, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer GinkgoRecover()
				defer wg.Done()
				<-start
				results[i] = client().Refresh(ctx, t.RefreshToken, "unauthorized_recovery")
			}(i)
		}
		close(start)
		wg.Wait()
		children := map[string]bool{}
		for _, ex := range results {
			if ex.Status == 200 {
				if rt := ex.Str("refresh_token"); rt != "" && rt != t.RefreshToken {
					children[rt] = true
				}
			}
		}
		Expect(len(children)).To(BeNumerically("<=", 1), "one refresh token was rotated into %d different successors", len(children))
		live := 0
		for c := range children {
			if client().Refresh(ctx, c, "forced").Status == 200 {
				live++
			}
		}
		Expect(live).To(BeNumerically("<=", 1), "%d successors are live at once", live)
	})
	Requirement("CDX-REUSE-005", nil, func(ctx SpecContext) {
		if graceWindow(ctx) <= 0 {
			// A controllable issuer can open a window for this spec.
			if target.Admin == nil || !adminHasSettings(ctx, target.Admin) || target.Admin.SetReuseGrace(ctx, 10*time.Second) != nil {
				Skip(NotRunPrefix + "a declared reuse grace window (the target declares none)")
			}
			DeferCleanup(func(ctx SpecContext) { Expect(target.Admin.SetReuseGrace(ctx, 0)).To(Succeed()) })
		}
		t := login(ctx)
		first := refreshOK(ctx, t.RefreshToken, "proactive_expiry")
		second := refreshOK(ctx, t.RefreshToken, "proactive_expiry")
		Expect(second.RefreshToken).To(Equal(first.RefreshToken), "a grace-window replay forked the family")
	})
})
