package specs

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

func deviceCode(ctx SpecContext) wire.DeviceCode {
	GinkgoHelper()
	d, ex := client().RequestDeviceCode(ctx)
	expectStatus(ex, 200, 201)
	Expect(d.DeviceAuthID).NotTo(BeEmpty(), "no string device_auth_id: %s", ex)
	Expect(d.UserCode).NotTo(BeEmpty(), "no string user_code: %s", ex)
	return d
}

func approvedGrant(ctx SpecContext) (wire.DeviceCode, wire.DeviceGrant) {
	GinkgoHelper()
	d := deviceCode(ctx)
	Expect(target.Approver.ApproveDevice(ctx, d.UserCode, target.Issuer+"/codex/device")).To(Succeed())
	g, err := target.PollGrant(ctx, d, time.Minute)
	Expect(err).NotTo(HaveOccurred())
	return d, g
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
	Requirement("CDX-DEVICE-004", needs(harness.CapApprove), func(ctx SpecContext) {
		if target.Approver.Name() == "auto" {
			Skip(NotRunPrefix + "an approver that does not approve by itself: with --approver auto the issuer approves at the first poll")
		}
		if target.Admin != nil {
			if s, err := target.Admin.State(ctx); err == nil && s.AutoApprove != "" {
				// Mock mode approves at the first poll; suspend it to see one.
				if !adminHasSettings(ctx, target.Admin) || target.Admin.SetAutoApprove(ctx, false) != nil {
					Skip(NotRunPrefix + "a target without auto-approval: this one approves every device code for " + s.AutoApprove + " at its first poll")
				}
				DeferCleanup(func(ctx SpecContext) { Expect(target.Admin.SetAutoApprove(ctx, true)).To(Succeed()) })
			}
		}
		d := deviceCode(ctx)
		ex := client().DevicePoll(ctx, d)
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(wire.IsPending(ex.Status)).To(BeTrue(),
			"a poll before approval got %d; codex only keeps polling on 403 or 404 (\"device auth failed with status %d\"): %s", ex.Status, ex.Status, ex)
	})
	Requirement("CDX-DEVICE-005", needs(harness.CapApprove), func(ctx SpecContext) {
		d := deviceCode(ctx)
		Expect(target.Approver.ApproveDevice(ctx, d.UserCode, target.Issuer+"/codex/device")).To(Succeed())
		_, err := target.PollGrant(ctx, d, time.Minute)
		Expect(err).NotTo(HaveOccurred(), "codex decodes all three fields as strings")
	})
	Requirement("CDX-DEVICE-006", needs(harness.CapApprove), func(ctx SpecContext) {
		_, g := approvedGrant(ctx)
		Expect(g.CodeChallenge).To(Equal(wire.S256(g.CodeVerifier)), "code_challenge must be BASE64URL(SHA256(code_verifier))")
	})
	Requirement("CDX-DEVICE-007", needs(harness.CapApprove), func(ctx SpecContext) {
		_, g := approvedGrant(ctx)
		ex := client().ExchangeCode(ctx, g.AuthorizationCode, client().DeviceCallback(), g.CodeVerifier)
		expectStatus(ex, 200)
	})
	Requirement("CDX-DEVICE-008", needs(harness.CapApprove), func(ctx SpecContext) {
		_, g := approvedGrant(ctx)
		ex := client().ExchangeCode(ctx, g.AuthorizationCode, client().DeviceCallback(), g.CodeVerifier)
		expectStatus(ex, 200)
		_, err := wire.ParseTokens(ex)
		Expect(err).NotTo(HaveOccurred(), "%s", ex)
	})
	Requirement("CDX-DEVICE-009", needs(harness.CapDeny), func(ctx SpecContext) {
		d := deviceCode(ctx)
		Expect(target.Approver.DenyDevice(ctx, d.UserCode, target.Issuer+"/codex/device")).To(Succeed())
		expectNotPending(client().DevicePoll(ctx, d), "a denied code")
	})
	Requirement("CDX-DEVICE-010", nil, func(ctx SpecContext) {
		ex := client().DevicePoll(ctx, wire.DeviceCode{DeviceAuthID: "deviceauth_unknown_" + wire.NewState(), UserCode: "BCDF-GHJK"})
		expectNotPending(ex, "an unknown device_auth_id")
	})
	Requirement("CDX-DEVICE-011", needs(harness.CapClock), func(ctx SpecContext) {
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
		_, g := approvedGrant(ctx)
		expectStatus(client().ExchangeCode(ctx, g.AuthorizationCode, client().DeviceCallback(), g.CodeVerifier), 200)
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
		d := deviceCode(ctx)
		Expect(target.Approver.ApproveDevice(ctx, d.UserCode, target.Issuer+"/codex/device")).To(Succeed())
		wrong := d
		wrong.UserCode = "ZZZZ-ZZZZ"
		ex := client().DevicePoll(ctx, wrong)
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status/100).NotTo(Equal(2), "a poll with another user_code got the grant: %s", ex)
	})
	Requirement("CDX-DEVICE-016", needs(harness.CapApprove), func(ctx SpecContext) {
		_, g := approvedGrant(ctx)
		ex := client().ExchangeCode(ctx, g.AuthorizationCode, client().DeviceCallback(), wire.NewPKCE().Verifier)
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status).To(BeNumerically(">=", 400), "the code was redeemed with a wrong verifier: %s", ex)
		Expect(ex.Status).To(BeNumerically("<", 500), "%s", ex)
	})
})
