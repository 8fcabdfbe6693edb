package specs

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// deviceCode requests a device code as a step (blocked by CDX-DEVICE-001).
func deviceCode(ctx SpecContext) wire.DeviceCode {
	GinkgoHelper()
	d, ex := client().RequestDeviceCode(ctx)
	if ex.Err != nil || ex.Status/100 != 2 || d.DeviceAuthID == "" || d.UserCode == "" {
		blockedBy("CDX-DEVICE-001", "the device code request failed: %s", ex)
	}
	return d
}

// approve approves a user code through the approver (not run when the
// approver cannot).
func approve(ctx SpecContext, d wire.DeviceCode) {
	GinkgoHelper()
	if err := target.Approver.ApproveDevice(ctx, d.UserCode, target.Issuer+"/codex/device"); err != nil {
		notRun("the %s approver could not approve %s: %v", target.Approver.Name(), d.UserCode, err)
	}
}

// approvedGrant gets a granted device code as a step (blocked by
// CDX-DEVICE-005 when polling fails).
func approvedGrant(ctx SpecContext) (wire.DeviceCode, wire.DeviceGrant) {
	GinkgoHelper()
	d := deviceCode(ctx)
	approve(ctx, d)
	g, err := target.PollGrant(ctx, d, time.Minute)
	if err != nil {
		blockedBy("CDX-DEVICE-005", "polling an approved code failed: %v", err)
	}
	return d, g
}

// redeemed gets a fresh granted device code and redeems it, paced as a
// sign-in (see harness.Target.SignIn): the grant and the exchange's answer.
func redeemed(ctx SpecContext) (wire.DeviceGrant, *wire.Exchange) {
	GinkgoHelper()
	var g wire.DeviceGrant
	var ex *wire.Exchange
	target.SignIn(ctx, func() int {
		_, g = approvedGrant(ctx)
		ex = client().ExchangeCode(ctx, g.AuthorizationCode, client().DeviceCallback(), g.CodeVerifier)
		return ex.Status
	})
	return g, ex
}

// givenRedeemedDevice is redeemed as a step (blocked by CDX-DEVICE-007).
func givenRedeemedDevice(ctx SpecContext) (wire.DeviceGrant, *wire.Exchange) {
	GinkgoHelper()
	g, ex := redeemed(ctx)
	if ex.Err != nil || ex.Status != 200 {
		blockedBy("CDX-DEVICE-007", "redeeming a granted device code with its verifier failed: %s", ex)
	}
	return g, ex
}

// givenPollAnswers shows the poll endpoint answers a real, unapproved code
// the way codex expects (pending or granted), so that a refusal of a bad
// poll means something (blocked by CDX-DEVICE-004).
func givenPollAnswers(ctx SpecContext) {
	GinkgoHelper()
	d := deviceCode(ctx)
	ex := client().DevicePoll(ctx, d)
	if ex.Err != nil || !(wire.IsPending(ex.Status) || ex.Status/100 == 2) {
		blockedBy("CDX-DEVICE-004", "a poll of a fresh device code was answered neither pending nor granted: %s", ex)
	}
}

var _ = Describe("Device code login", func() {
	Requirement("CDX-DEVICE-001", nil, func(ctx SpecContext) {
		d, ex := client().RequestDeviceCode(ctx)
		expectStatus(ex, 200, 201)
		Expect(ex.Header.Get("Content-Type")).To(ContainSubstring("json"))
		Expect(d.DeviceAuthID).NotTo(BeEmpty(), "device_auth_id missing or not a string: %s", ex)
		Expect(d.UserCode).NotTo(BeEmpty(), "user_code (or usercode) missing or not a string: %s", ex)
	})
	Requirement("CDX-DEVICE-002", nil, func(ctx SpecContext) {
		d := deviceCode(ctx)
		if d.IntervalRaw == "" {
			return // absent is legal (CDX-DEVICE-003 covers it)
		}
		Expect(d.IntervalIsString()).To(BeTrue(),
			"interval is %s: codex fails with \"invalid type: integer, expected a string\" unless it is a JSON string of an integer", d.IntervalRaw)
	})
	Requirement("CDX-DEVICE-003", nil, func(ctx SpecContext) {
		d := deviceCode(ctx)
		Expect(d.IntervalRaw).NotTo(BeEmpty(), "no interval: codex would poll back-to-back")
		n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(d.IntervalRaw), `"`))
		Expect(err).NotTo(HaveOccurred(), "interval %s", d.IntervalRaw)
		Expect(n).To(BeNumerically(">=", 1), "interval %d makes codex poll back-to-back", n)
	})
	Requirement("CDX-DEVICE-004", nil, func(ctx SpecContext) {
		if target.Admin != nil {
			if s, err := target.Admin.State(ctx); err == nil && s.AutoApprove != "" && adminHasSettings(ctx, target.Admin) {
				// Mock mode: suspend auto-approval to see a poll before any.
				Expect(target.Admin.SetAutoApprove(ctx, false)).To(Succeed())
				DeferCleanup(func(ctx SpecContext) { Expect(target.Admin.SetAutoApprove(ctx, true)).To(Succeed()) })
			}
		}
		// The first thing done with a fresh code: poll, before any approval.
		// An issuer that approves by itself is observed, not assumed.
		d := deviceCode(ctx)
		ex := client().DevicePoll(ctx, d)
		Expect(ex.Err).NotTo(HaveOccurred())
		if ex.Status/100 == 2 {
			notRun("the issuer approved the code at its very first poll, so an answer before approval could not be observed (an issuer that approves by itself should answer the first poll of each code pending, as a person approving in a browser would look to codex)")
		}
		Expect(wire.IsPending(ex.Status)).To(BeTrue(),
			"a poll before approval got %d; codex only keeps polling on 403 or 404 (\"device auth failed with status %d\"): %s", ex.Status, ex.Status, ex)
	})
	Requirement("CDX-DEVICE-005", needs(harness.CapApprove), func(ctx SpecContext) {
		d := deviceCode(ctx)
		approve(ctx, d)
		_, err := target.PollGrant(ctx, d, time.Minute)
		Expect(err).NotTo(HaveOccurred(), "codex decodes all three fields as strings")
	})
	Requirement("CDX-DEVICE-006", needs(harness.CapApprove), func(ctx SpecContext) {
		_, g := approvedGrant(ctx)
		Expect(g.CodeChallenge).To(Equal(wire.S256(g.CodeVerifier)), "code_challenge must be BASE64URL(SHA256(code_verifier))")
	})
	Requirement("CDX-DEVICE-007", needs(harness.CapApprove), func(ctx SpecContext) {
		_, ex := redeemed(ctx)
		expectStatus(ex, 200)
	})
	Requirement("CDX-DEVICE-008", needs(harness.CapApprove), func(ctx SpecContext) {
		_, ex := givenRedeemedDevice(ctx)
		_, err := wire.ParseTokens(ex)
		Expect(err).NotTo(HaveOccurred(), "%s", ex)
	})
	Requirement("CDX-DEVICE-009", needs(harness.CapDeny), func(ctx SpecContext) {
		givenPollAnswers(ctx)
		d := deviceCode(ctx)
		if err := target.Approver.DenyDevice(ctx, d.UserCode, target.Issuer+"/codex/device"); err != nil {
			notRun("the %s approver could not deny %s: %v", target.Approver.Name(), d.UserCode, err)
		}
		expectNotPending(client().DevicePoll(ctx, d), "a denied code")
	})
	Requirement("CDX-DEVICE-010", nil, func(ctx SpecContext) {
		givenPollAnswers(ctx)
		ex := client().DevicePoll(ctx, wire.DeviceCode{DeviceAuthID: "deviceauth_unknown_" + wire.NewState(), UserCode: "BCDF-GHJK"})
		expectNotPending(ex, "an unknown device_auth_id")
	})
	Requirement("CDX-DEVICE-011", needs(harness.CapClock), func(ctx SpecContext) {
		givenPollAnswers(ctx)
		d := deviceCode(ctx)
		Expect(target.Advance(ctx, 16*time.Minute)).To(Succeed())
		expectNotPending(client().DevicePoll(ctx, d), "an expired device code")
	})
	Requirement("CDX-DEVICE-012", needs(harness.CapApprove), func(ctx SpecContext) {
		d, _ := approvedGrant(ctx)
		ex := client().DevicePoll(ctx, d)
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status/100).NotTo(Equal(2), "a second poll of a granted code handed out another code: %s", ex)
	})
	Requirement("CDX-DEVICE-013", needs(harness.CapApprove), func(ctx SpecContext) {
		g, _ := givenRedeemedDevice(ctx)
		again := client().ExchangeCode(ctx, g.AuthorizationCode, client().DeviceCallback(), g.CodeVerifier)
		Expect(again.Err).NotTo(HaveOccurred())
		Expect(again.Status).To(BeNumerically(">=", 400), "the device authorization code was redeemed twice: %s", again)
		Expect(again.Status).To(BeNumerically("<", 500), "a replayed code must be a client error: %s", again)
	})
	Requirement("CDX-DEVICE-014", nil, func(ctx SpecContext) {
		ex := client().Get(ctx, "/codex/device", nil)
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status).To(SatisfyAny(Equal(http.StatusOK), BeNumerically("~", 302, 5)), "%s", ex)
	})
	Requirement("CDX-DEVICE-015", needs(harness.CapApprove), func(ctx SpecContext) {
		approvedGrant(ctx) // the right user code is granted
		d := deviceCode(ctx)
		approve(ctx, d)
		wrong := d
		wrong.UserCode = "ZZZZ-ZZZZ"
		ex := client().DevicePoll(ctx, wrong)
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status/100).NotTo(Equal(2), "a poll with another user_code got the grant: %s", ex)
	})
	Requirement("CDX-DEVICE-016", needs(harness.CapApprove), func(ctx SpecContext) {
		givenRedeemedDevice(ctx) // the right verifier is accepted
		_, g := approvedGrant(ctx)
		ex := client().ExchangeCode(ctx, g.AuthorizationCode, client().DeviceCallback(), wire.NewPKCE().Verifier)
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status).To(BeNumerically(">=", 400), "the code was redeemed with a wrong verifier: %s", ex)
		Expect(ex.Status).To(BeNumerically("<", 500), "%s", ex)
	})
	Requirement("CDX-DEVICE-017", needs(harness.CapApprove), func(ctx SpecContext) {
		// Two codes of one user, both granted; then both redeemed at the
		// start of one wall-clock second, at once.
		_, g1 := approvedGrant(ctx)
		_, g2 := approvedGrant(ctx)
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
		var wg sync.WaitGroup
		answers := make([]*wire.Exchange, 2)
		for i, g := range []wire.DeviceGrant{g1, g2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = client().ExchangeCode(ctx, g.AuthorizationCode, client().DeviceCallback(), g.CodeVerifier)
			}()
		}
		wg.Wait()
		target.NoteSignIn()
		var toks []wire.Tokens
		for i, ex := range answers {
			Expect(ex.Err).NotTo(HaveOccurred())
			Expect(ex.Status).To(Equal(200), "sign-in %d of two within one second failed: %s", i+1, ex)
			t, err := wire.ParseTokens(ex)
			Expect(err).NotTo(HaveOccurred(), "%s", ex)
			toks = append(toks, t)
		}
		Expect(toks[1].AccessToken).NotTo(Equal(toks[0].AccessToken), "two sign-ins got the same access token")
		Expect(toks[1].RefreshToken).NotTo(Equal(toks[0].RefreshToken), "two sign-ins got the same refresh token")
		for i, t := range toks {
			ex := refreshAny(ctx, t.RefreshToken, "proactive_expiry")
			Expect(ex.Status).To(Equal(200), "the refresh token of sign-in %d does not refresh: %s", i+1, ex)
		}
	})
})
