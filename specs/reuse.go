package specs

import (
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// rotated signs in and refreshes once (in the encoding the target
// accepts): the first token is rotated out. Blocked by CDX-REFRESH-004 when
// the issuer does not rotate.
func rotated(ctx SpecContext) (old, newest string) {
	GinkgoHelper()
	t := login(ctx)
	r := givenRefresh(ctx, t.RefreshToken, "proactive_expiry")
	if r.RefreshToken == "" || r.RefreshToken == t.RefreshToken {
		blockedBy("CDX-REFRESH-004", "the issuer does not rotate refresh tokens, so there is no rotated-out token to present")
	}
	return t.RefreshToken, r.RefreshToken
}

// graceCap is the longest reuse grace window the suite accepts as a grace
// window (Okta's is at most 60 s); beyond it, a rotated-out token that keeps
// yielding its successor is reuse accepted.
const graceCap = 2 * time.Minute

// presentReused presents a rotated-out token past any grace window: grace
// replays (the successor already issued, handed back) are seen through, a
// fork fails the spec. It returns the issuer's answer to the reuse.
func presentReused(ctx SpecContext, old, newest string) *wire.Exchange {
	GinkgoHelper()
	p, err := target.PresentRotatedOut(ctx, old, newest)
	switch {
	case errors.Is(err, harness.ErrGraceTooLong) && target.Cfg.MaxWait >= graceCap:
		// Whoever holds the rotated-out token keeps getting the live
		// successor: past a couple of minutes that is reuse accepted.
		Fail(fmt.Sprintf("%v: a grace window of more than %s lets whoever holds a rotated-out token take the session over", err, graceCap))
	case errors.Is(err, harness.ErrGraceTooLong):
		notRun("%v; give --max-wait %s or more (a longer window fails), or clock control", err, graceCap)
	case errors.Is(err, harness.ErrNoRefreshEncoding):
		blockedBy("CDX-REFRESH-001", "%v", err)
	case err != nil:
		Fail(err.Error())
	}
	if p.GraceReplays > 0 {
		GinkgoWriter.Printf("the rotated-out token was answered with its successor %d times (a grace window of about %s) before the reuse answer\n",
			p.GraceReplays, p.Waited.Round(100*time.Millisecond))
	}
	Expect(p.Accepted).To(BeFalse(), "a rotated-out refresh token was answered 200 without its successor (no refresh_token, or the rotated-out token itself): it works as a live token for whoever holds it: %s", p.Answer)
	Expect(p.Fork).To(BeFalse(), "a rotated-out refresh token was rotated again, into a second successor: the family forked (a thief and the user both hold live tokens): %s", p.Answer)
	Expect(p.Answer.Err).NotTo(HaveOccurred())
	return p.Answer
}

// adminGrace reports the reuse grace window the target declares through
// its admin API (0 when it has none or does not say).
func adminGrace(ctx SpecContext) float64 {
	if target.Admin == nil {
		return 0
	}
	s, err := target.Admin.State(ctx)
	if err != nil {
		return 0
	}
	return s.ReuseGrace
}

var _ = Describe("Refresh-token reuse detection", func() {
	Requirement("CDX-REUSE-001", nil, func(ctx SpecContext) {
		old, newest := rotated(ctx)
		ex := presentReused(ctx, old, newest)
		Expect(wire.ErrorCode(ex.Body)).To(Equal("refresh_token_reused"), "%s", ex)
	})
	Requirement("CDX-REUSE-002", nil, func(ctx SpecContext) {
		old, newest := rotated(ctx)
		presentReused(ctx, old, newest)
		ex := refreshAny(ctx, newest, "proactive_expiry")
		class, _ := wire.ClassifyRefresh(ex.Status, ex.Body)
		Expect(class).To(Equal(wire.RefreshPermanent), "after reuse was detected the family's newest token still works (whoever stole a token keeps a live session): %s", ex)
	})
	Requirement("CDX-REUSE-003", nil, func(ctx SpecContext) {
		old, newest := rotated(ctx)
		ex := presentReused(ctx, old, newest)
		class, _ := wire.ClassifyRefresh(ex.Status, ex.Body)
		Expect(class).To(Equal(wire.RefreshPermanent), "a rotated-out refresh token was answered %s: %s", class, ex)
	})
	Requirement("CDX-REUSE-004", nil, func(ctx SpecContext) {
		t := login(ctx)
		enc := refreshEncoding(ctx)
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
				results[i] = client().RefreshEncoded(ctx, enc, t.RefreshToken, "unauthorized_recovery")
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
		if len(children) == 0 {
			blockedBy("CDX-REFRESH-004", "none of %d concurrent presentations of a fresh token was rotated (e.g. %s)", n, results[0])
		}
		Expect(len(children)).To(BeNumerically("<=", 1), "one refresh token was rotated into %d different successors", len(children))
		live := 0
		for c := range children {
			if client().RefreshEncoded(ctx, enc, c, "forced").Status == 200 {
				live++
			}
		}
		Expect(live).To(BeNumerically("<=", 1), "%d successors are live at once", live)
	})
	Requirement("CDX-REUSE-005", nil, func(ctx SpecContext) {
		old, newest := rotated(ctx)
		ex := refreshAny(ctx, old, "proactive_expiry")
		if ex.Status != 200 && adminGrace(ctx) <= 0 && target.Admin != nil && adminHasSettings(ctx, target.Admin) {
			// A controllable issuer without a window can open one for this spec.
			Expect(target.Admin.SetReuseGrace(ctx, 10*time.Second)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { Expect(target.Admin.SetReuseGrace(ctx, 0)).To(Succeed()) })
			old, newest = rotated(ctx)
			ex = refreshAny(ctx, old, "proactive_expiry")
		}
		if ex.Status != 200 {
			notRun("the target has no reuse grace window: a rotated-out token was refused at once (%d), which is legitimate", ex.Status)
		}
		Expect(ex.Str("refresh_token")).To(Equal(newest), "a grace-window replay rotated the token into a second successor: the family forked: %s", ex)
	})
})
