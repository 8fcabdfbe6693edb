package specs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/adminapi"
	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/harness/evidence"
)

var (
	guardOnce sync.Once
	guard     *codexcli.Guard
	guardErr  error
)

// codex returns a driver with a fresh CODEX_HOME, behind the guard proxy
// that refuses every host but the issuer under test.
func codex() *codexcli.Driver {
	GinkgoHelper()
	guardOnce.Do(func() {
		guard, guardErr = codexcli.StartGuard()
	})
	Expect(guardErr).NotTo(HaveOccurred())
	d, err := codexcli.New(target.Cfg.CodexBin, target.Issuer, GinkgoT().TempDir(), guard.URL())
	if err == nil {
		d.Endpoints, d.CACert = client().Endpoints, target.Cfg.CACert
		d.Observe = func(r codexcli.Result, before, after string) {
			out := r.Output()
			if len(out) > evidence.MaxBody {
				out = out[len(out)-evidence.MaxBody:]
			}
			target.Evidence.AddCodexRun(evidence.CodexRun{Command: "codex " + strings.Join(r.Args, " "), ExitCode: r.ExitCode,
				DurationMS: float64(r.Duration.Milliseconds()), Said: codexcli.ErrorLine(r.Output()), Output: out}, before, after)
		}
	}
	Expect(err).NotTo(HaveOccurred())
	return d
}

func closeGuard() {
	if guard != nil {
		if r := guard.Refused(); len(r) > 0 {
			GinkgoWriter.Printf("guard proxy refused codex's attempts to reach: %s\n", strings.Join(r, ", "))
		}
		guard.Close()
	}
}

func approveWithTarget(ctx context.Context, code string) error {
	return target.Approver.ApproveDevice(ctx, code, target.Issuer+"/codex/device")
}

// codexDeviceLogin signs the real codex in and checks it succeeded.
func codexDeviceLogin(ctx SpecContext, d *codexcli.Driver) codexcli.AuthFile {
	GinkgoHelper()
	res, err := d.DeviceLoginWith(ctx, approveWithTarget)
	Expect(err).NotTo(HaveOccurred())
	if res.ExitCode != 0 {
		// Specs that log in first are blocked by the login's own
		// requirement, so one broken login is one root cause.
		blockedBy("CDX-CLI-001", "codex device login failed: %s", res)
	}
	a, err := d.ReadAuth()
	Expect(err).NotTo(HaveOccurred(), "no auth.json after a successful login: %s", res)
	return a
}

// codexBrowserLogin signs the real codex in through the browser flow.
func codexBrowserLogin(ctx SpecContext) codexcli.AuthFile {
	GinkgoHelper()
	d := codex()
	res, err := d.BrowserLogin(ctx, guard, target.Approver.Authorize, false)
	Expect(err).NotTo(HaveOccurred())
	if res.ExitCode != 0 {
		blockedBy("CDX-CLI-002", "codex browser login failed: %s", res)
	}
	a, err := d.ReadAuth()
	Expect(err).NotTo(HaveOccurred())
	return a
}

// codexRefresh waits (real time, when the target needs it), lets codex load
// its auth with `codex features list` and returns auth.json afterwards.
func codexRefresh(ctx SpecContext, d *codexcli.Driver, wait time.Duration) codexcli.AuthFile {
	GinkgoHelper()
	Expect(target.WaitReal(ctx, wait)).To(Succeed())
	res, err := d.FeaturesList(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(res.ExitCode).To(Equal(0), "%s", res)
	a, err := d.ReadAuth()
	Expect(err).NotTo(HaveOccurred())
	return a
}

func expectTokens(a codexcli.AuthFile) {
	GinkgoHelper()
	Expect(a.AuthMode).To(Equal("chatgpt"))
	Expect(a.Tokens).NotTo(BeNil(), "auth.json has no tokens")
	Expect(a.Tokens.IDToken).NotTo(BeEmpty())
	Expect(a.Tokens.AccessToken).NotTo(BeEmpty())
	Expect(a.Tokens.RefreshToken).NotTo(BeEmpty())
	Expect(a.Tokens.AccountID).NotTo(BeNil(), "account_id is null: the id_token carries no chatgpt_account_id")
	Expect(*a.Tokens.AccountID).NotTo(BeEmpty())
}

// intoCodexWindow makes the next login's access token expire within
// codex's 300 s window on codex's own clock: a short lifetime through the
// admin API, or (returned wait) a real wait for a declared lifetime.
func intoCodexWindow(ctx SpecContext) (wait time.Duration) {
	GinkgoHelper()
	if target.Admin != nil && target.Missing(harness.CapCodexRefresh) == "" && adminHasSettings(ctx, target.Admin) {
		Expect(target.Admin.SetAccessTTL(ctx, 240*time.Second)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(target.Admin.SetAccessTTL(ctx, 0)).To(Succeed()) })
		return 0
	}
	return target.Cfg.AccessTTL - harness.CodexWindow + 5*time.Second
}

func adminHasSettings(ctx context.Context, a *harness.Admin) bool {
	s, err := a.State(ctx)
	if err != nil {
		return false
	}
	return s.Has(adminapi.CapSettings)
}

var _ = Describe("The real codex CLI", func() {
	cli := harness.CapCodexCLI
	BeforeEach(func(ctx SpecContext) {
		// codex judges expiry and timestamps on the real clock: undo any
		// clock moves of earlier specs.
		if target.Caps(harness.CapClock) {
			Expect(target.Admin.ResetClock(ctx)).To(Succeed())
		}
	})
	Requirement("CDX-CLI-001", needs(cli, harness.CapApprove), func(ctx SpecContext) {
		d := codex()
		a := codexDeviceLogin(ctx, d)
		expectTokens(a)
		Expect(a.Tokens.OAuthProvenance).NotTo(BeNil(), "no oauth_provenance")
		Expect(a.Tokens.OAuthProvenance.Issuer).To(Equal(target.Issuer))
		Expect(a.OpenAIAPIKey).To(BeNil(), "device login must not store an API key")
	})
	Requirement("CDX-CLI-002", needs(cli, harness.CapAuthorize), func(ctx SpecContext) {
		expectTokens(codexBrowserLogin(ctx))
	})
	Requirement("CDX-CLI-003", needs(cli, harness.CapAuthorize), func(ctx SpecContext) {
		a := codexBrowserLogin(ctx)
		Expect(a.OpenAIAPIKey).NotTo(BeNil(), "OPENAI_API_KEY is null: the openai-api-key token exchange failed")
		Expect(*a.OpenAIAPIKey).NotTo(BeEmpty())
	})
	Requirement("CDX-CLI-004", needs(cli, harness.CapApprove, harness.CapCodexRefresh), func(ctx SpecContext) {
		wait := intoCodexWindow(ctx)
		d := codex()
		a := codexDeviceLogin(ctx, d)
		b := codexRefresh(ctx, d, wait)
		Expect(b.Tokens.RefreshToken).NotTo(Equal(a.Tokens.RefreshToken), "codex's refresh did not rotate the refresh token in auth.json (refresh refused or not rotated)")
		Expect(b.Tokens.AccessToken).NotTo(Equal(a.Tokens.AccessToken), "codex kept its access token: the refresh failed")
		Expect(b.LastRefresh).NotTo(Equal(a.LastRefresh), "last_refresh did not move")
		Expect(*b.Tokens.AccountID).To(Equal(*a.Tokens.AccountID))
	})
	Requirement("CDX-CLI-005", needs(cli, harness.CapApprove, harness.CapCodexRefresh), func(ctx SpecContext) {
		wait := intoCodexWindow(ctx)
		d := codex()
		a := codexDeviceLogin(ctx, d)
		seen := []string{a.Tokens.RefreshToken}
		for i := 0; i < 2; i++ {
			b := codexRefresh(ctx, d, wait)
			Expect(seen).NotTo(ContainElement(b.Tokens.RefreshToken), "refresh %d did not give codex a new refresh token", i+1)
			seen = append(seen, b.Tokens.RefreshToken)
		}
	})
	Requirement("CDX-CLI-006", needs(cli, harness.CapApprove), func(ctx SpecContext) {
		d := codex()
		a := codexDeviceLogin(ctx, d)
		res, err := d.Logout(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.ExitCode).To(Equal(0), "%s", res)
		Expect(res.Output()).To(ContainSubstring("Successfully logged out"))
		_, err = d.ReadAuth()
		Expect(errors.Is(err, os.ErrNotExist)).To(BeTrue(), "auth.json still exists after logout")
		// In the encoding the target's refresh is known to accept (blocked by
		// CDX-REFRESH-001 when none is), so a refusal means the token.
		ex := refreshAny(ctx, a.Tokens.RefreshToken, "proactive_expiry")
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status/100).To(Equal(4), "the refresh token codex revoked at logout is not refused: %s", ex)
	})
	Requirement("CDX-CLI-007", needs(cli, harness.CapApprove), func(ctx SpecContext) {
		d := codex()
		codexDeviceLogin(ctx, d)
		res, err := d.LoginStatus(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Output()).To(ContainSubstring("Logged in using ChatGPT"), "%s", res)
	})
	Requirement("CDX-CLI-009", needs(cli, harness.CapAgentIdentity), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		res, err := codex().AgentLoginStatus(ctx, a.Raw)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Output()).To(ContainSubstring("Logged in using access token"), "%s", res)
		if target.Admin != nil {
			agents, err := target.Admin.Agents(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(agents[a.RuntimeID]).NotTo(BeEmpty(), "the issuer recorded no task registration for %s", a.RuntimeID)
		}
	})
	Requirement("CDX-CLI-010", needs(cli, harness.CapPAT), func(ctx SpecContext) {
		d := codex()
		res, err := d.PATLogin(ctx, pat(ctx))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.ExitCode).To(Equal(0), "%s", res)
		a, err := d.ReadAuth()
		Expect(err).NotTo(HaveOccurred())
		Expect(a.PersonalAccessToken).To(HavePrefix("at-"))
		res, err = d.LoginStatus(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Output()).To(ContainSubstring("Logged in using personal access token"), "%s", res)
	})
	Requirement("CDX-CLI-011", needs(cli, harness.CapApprove), func(ctx SpecContext) {
		d := codex()
		res, err := d.AppServerDeviceLogin(ctx, approveWithTarget)
		if err != nil {
			Fail(fmt.Sprintf("codex app-server device login: %v", err))
		}
		Expect(res.VerificationURL).To(Equal(target.Issuer + "/codex/device"))
		Expect(res.Success).To(BeTrue(), "account/login/completed reported failure: %s", res.Error)
		a, err := d.ReadAuth()
		Expect(err).NotTo(HaveOccurred())
		expectTokens(a)
	})
	Requirement("CDX-CLI-012", needs(cli, harness.CapWorkload), func(ctx SpecContext) {
		rule, assertion := workload(ctx)
		res, err := codex().WorkloadLoginStatus(ctx, guard, rule, assertion)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Output()).To(ContainSubstring("Logged in using workload identity"), "%s", res)
	})
	Requirement("CDX-CLI-008", needs(cli, harness.CapAuthorize), func(ctx SpecContext) {
		d := codex()
		var redirect string
		res, err := d.BrowserLogin(ctx, guard, func(ctx context.Context, u, r string) (string, error) {
			redirect = r
			return target.Approver.Authorize(ctx, u, r)
		}, true)
		Expect(err).NotTo(HaveOccurred())
		Expect(redirect).To(ContainSubstring(":1457/"), "codex did not fall back to port 1457")
		Expect(res.ExitCode).To(Equal(0), "%s", res)
	})
})
