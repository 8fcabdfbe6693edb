// Package oracle runs the real codex CLI against the built-in issuer with a
// fault switched on and reports what codex itself observed. Its verdicts
// are the ground truth the conformance suite must agree with: wherever a
// fault makes codex fail, the suite must report a MUST failure, and where
// codex succeeds, it must not.
package oracle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/codexcli"
)

// Flows codex can be observed in.
const (
	FlowDeviceLogin     = "device-login"
	FlowBrowserLogin    = "browser-login"
	FlowBrowserFallback = "browser-login-1455-busy"
	FlowRefresh         = "refresh"
	FlowAgentIdentity   = "agent-identity"
	FlowPATLogin        = "pat-login"
	FlowWorkloadLogin   = "workload-login"
)

// Flows lists every flow, in the order the self-test runs them.
var Flows = []string{FlowDeviceLogin, FlowBrowserLogin, FlowBrowserFallback, FlowRefresh, FlowAgentIdentity, FlowPATLogin, FlowWorkloadLogin}

// Outcome is what codex did.
type Outcome struct {
	// Version is the codex release that ran (`codex --version`).
	Version string
	Flow    string
	Failed  bool
	Summary string
}

// Run starts the built-in issuer through start with faults on (and the
// given reuse grace window, the same the suite ran with) and runs flow with
// the real codex.
func Run(ctx context.Context, start harness.StartBuiltin, bin, flow string, faults []string, grace time.Duration, dir string) (Outcome, error) {
	target, err := harness.Open(ctx, harness.Config{Builtin: start, BuiltinFaults: faults, BuiltinReuseGrace: grace})
	if err != nil {
		return Outcome{}, err
	}
	defer target.Close()
	guard, err := codexcli.StartGuard()
	if err != nil {
		return Outcome{}, err
	}
	defer guard.Close()
	d, err := codexcli.New(bin, target.Issuer, dir, guard.URL())
	if err != nil {
		return Outcome{}, err
	}
	d.Timeout = 20 * time.Second
	// A person approves after reading the code, so codex polls at least
	// once before approval (built-in interval: 1 s).
	approve := func(ctx context.Context, code string) error {
		time.Sleep(1500 * time.Millisecond)
		return target.Approver.ApproveDevice(ctx, code, target.Issuer+"/codex/device")
	}
	out := Outcome{Flow: flow, Version: d.Version}
	loggedIn := func(res codexcli.Result) bool {
		a, err := d.ReadAuth()
		ok := res.ExitCode == 0 && err == nil && a.Tokens != nil && a.Tokens.RefreshToken != ""
		if !ok {
			out.Failed = true
			out.Summary = "login failed: " + lastLine(res.Output())
		}
		return ok
	}
	switch flow {
	case FlowDeviceLogin:
		res, err := d.DeviceLoginWith(ctx, approve)
		if err != nil {
			return out, err
		}
		if loggedIn(res) {
			out.Summary = "logged in"
		}
	case FlowBrowserLogin, FlowBrowserFallback:
		res, err := d.BrowserLogin(ctx, guard, target.Approver.Authorize, flow == FlowBrowserFallback)
		if err != nil {
			out.Failed, out.Summary = true, "login failed: "+err.Error()
			return out, nil
		}
		if loggedIn(res) {
			out.Summary = "logged in"
		}
	case FlowRefresh:
		if err := target.Admin.SetAccessTTL(ctx, 240*time.Second); err != nil {
			return out, err
		}
		res, err := d.DeviceLoginWith(ctx, approve)
		if err != nil {
			return out, err
		}
		if !loggedIn(res) {
			return out, nil
		}
		prev, _ := d.ReadAuth()
		for i := 1; i <= 2; i++ {
			if _, err := d.FeaturesList(ctx); err != nil {
				return out, err
			}
			now, err := d.ReadAuth()
			if errors.Is(err, os.ErrNotExist) || err != nil || now.Tokens.AccessToken == prev.Tokens.AccessToken {
				out.Failed, out.Summary = true, fmt.Sprintf("refresh %d did not renew codex's tokens", i)
				return out, nil
			}
			prev = now
		}
		out.Summary = "refreshed twice"
	case FlowAgentIdentity:
		jwt, err := target.Admin.MintAgentIdentity(ctx, "alice", "")
		if err != nil {
			return out, err
		}
		res, err := d.AgentLoginStatus(ctx, jwt)
		if err != nil {
			return out, err
		}
		if strings.Contains(res.Output(), "Logged in using access token") {
			out.Summary = "logged in using the agent identity"
		} else {
			out.Failed, out.Summary = true, "not logged in: "+lastLine(res.Output())
		}
	case FlowPATLogin:
		tok, err := target.Admin.MintPAT(ctx, "alice")
		if err != nil {
			return out, err
		}
		res, err := d.PATLogin(ctx, tok)
		if err != nil {
			return out, err
		}
		if res.ExitCode == 0 {
			out.Summary = "logged in with the personal access token"
		} else {
			out.Failed, out.Summary = true, "login failed: "+lastLine(res.Output())
		}
	case FlowWorkloadLogin:
		rule, assertion, err := target.Admin.WorkloadAssertion(ctx, "alice")
		if err != nil {
			return out, err
		}
		res, err := d.WorkloadLoginStatus(ctx, guard, rule, assertion)
		if err != nil {
			return out, err
		}
		if strings.Contains(res.Output(), "Logged in using workload identity") {
			out.Summary = "logged in using workload identity"
		} else {
			out.Failed, out.Summary = true, "not logged in: "+lastLine(res.Output())
		}
	default:
		return out, fmt.Errorf("unknown flow %q", flow)
	}
	return out, nil
}

func lastLine(s string) string { return codexcli.ErrorLine(s) }
