package capture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/codexcli"
)

// Options say which codex to capture against which target.
type Options struct {
	// Target is the issuer codex talks to; it must have an admin API (the
	// built-in reference issuer behind Recorder).
	Target   *harness.Target
	Recorder *Recorder
	// Bin is the codex binary.
	Bin string
	// Dir holds the CODEX_HOMEs (removed by the caller).
	Dir string
	// Progress receives one line per flow (nil: silent).
	Progress func(format string, args ...any)
}

// Flows are the sections of a capture, in order.
var Flows = []string{"01_device_login", "02_refresh", "03_logout", "04_browser_login", "05_agent_identity",
	"06_pat_login", "07_workload_login", "08_app_server_login"}

// Run drives codex through every flow against the target and returns what
// it sent. A flow that fails with this codex is recorded with why (that is
// a finding, not an error); an error means the capture itself could not run.
func Run(ctx context.Context, o Options) (*Capture, error) {
	t := o.Target
	if t.Admin == nil || t.Approver == nil {
		return nil, errors.New("capture needs a target with an admin API and an approver (the built-in reference issuer)")
	}
	version, err := codexcli.BinaryVersion(ctx, o.Bin)
	if err != nil {
		return nil, err
	}
	c := &Capture{Version: version}
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	// Each flow runs behind a guard of its own, so what it refused is its own.
	section := func(name, home string, run func(d *codexcli.Driver, g *codexcli.Guard) error) error {
		g, err := codexcli.StartGuard()
		if err != nil {
			return err
		}
		defer g.Close()
		g.MarkIntercepted = InterceptedHeader
		d, err := codexcli.New(o.Bin, t.Issuer, filepath.Join(o.Dir, home), g.URL())
		if err != nil {
			return err
		}
		d.Timeout = 60 * time.Second
		o.Recorder.Begin(name)
		ferr := run(d, g)
		o.Recorder.End()
		s := Section{Name: name, Exchanges: o.Recorder.Take(), Refused: g.Refused()}
		if ferr != nil {
			s.Failed = ferr.Error()
			progress("%-22s fails with codex %s: %s", name, version, s.Failed)
		} else {
			progress("%-22s %d requests", name, len(s.Exchanges))
		}
		c.Sections = append(c.Sections, s)
		return nil
	}
	approve := func(ctx context.Context, code string) error {
		time.Sleep(1500 * time.Millisecond) // a person reads the code first: codex polls at least once
		return t.Approver.ApproveDevice(ctx, code, t.Issuer+"/codex/device")
	}
	// The device login's access token expires inside codex's 300 s window,
	// so each later auth load refreshes (§6.1).
	if err := t.Admin.SetAccessTTL(ctx, 240*time.Second); err != nil {
		return nil, fmt.Errorf("shorten the access-token lifetime: %w", err)
	}
	steps := []struct {
		name, home string
		run        func(d *codexcli.Driver, g *codexcli.Guard) error
	}{
		{Flows[0], "device", func(d *codexcli.Driver, _ *codexcli.Guard) error {
			res, err := d.DeviceLoginWith(ctx, approve)
			return loggedIn(d, res, err)
		}},
		{Flows[1], "device", func(d *codexcli.Driver, _ *codexcli.Guard) error {
			for i := 1; i <= 2; i++ {
				before, err := d.ReadAuth()
				if err != nil {
					return fmt.Errorf("no login to refresh: %w", err)
				}
				res, err := d.FeaturesList(ctx)
				if err != nil {
					return err
				}
				after, err := d.ReadAuth()
				if err != nil || after.Tokens == nil || before.Tokens == nil || after.Tokens.AccessToken == before.Tokens.AccessToken {
					return fmt.Errorf("refresh %d did not renew codex's tokens: %s", i, codexcli.ErrorLine(res.Output()))
				}
			}
			return nil
		}},
		{Flows[2], "device", func(d *codexcli.Driver, _ *codexcli.Guard) error {
			res, err := d.Logout(ctx)
			if err != nil {
				return err
			}
			if _, statErr := os.Stat(d.AuthPath()); res.ExitCode != 0 || statErr == nil {
				return fmt.Errorf("logout: exit %d: %s", res.ExitCode, codexcli.ErrorLine(res.Output()))
			}
			return nil
		}},
		{Flows[3], "browser", func(d *codexcli.Driver, g *codexcli.Guard) error {
			res, err := d.BrowserLogin(ctx, g, func(ctx context.Context, authorizeURL, redirectURI string) (string, error) {
				o.Recorder.Note("GET", strings.Replace(authorizeURL, t.Issuer, "https://auth.openai.com", 1),
					"the authorize URL codex opened in the browser (the browser sends it, not codex)")
				return t.Approver.Authorize(ctx, authorizeURL, redirectURI)
			}, false)
			return loggedIn(d, res, err)
		}},
		{Flows[4], "agent", func(d *codexcli.Driver, _ *codexcli.Guard) error {
			jwt, err := t.Admin.MintAgentIdentity(ctx, "alice", "")
			if err != nil {
				return fmt.Errorf("mint an agent identity: %w", err)
			}
			res, err := d.AgentLoginStatus(ctx, jwt)
			return expectOutput(res, err, "Logged in using access token")
		}},
		{Flows[5], "pat", func(d *codexcli.Driver, _ *codexcli.Guard) error {
			tok, err := t.Admin.MintPAT(ctx, "alice")
			if err != nil {
				return fmt.Errorf("mint a personal access token: %w", err)
			}
			res, err := d.PATLogin(ctx, tok)
			if err != nil {
				return err
			}
			if res.ExitCode != 0 {
				return fmt.Errorf("exit %d: %s", res.ExitCode, codexcli.ErrorLine(res.Output()))
			}
			res, err = d.LoginStatus(ctx)
			return expectOutput(res, err, "Logged in using personal access token")
		}},
		{Flows[6], "workload", func(d *codexcli.Driver, g *codexcli.Guard) error {
			rule, assertion, err := t.Admin.WorkloadAssertion(ctx, "alice")
			if err != nil {
				return fmt.Errorf("workload assertion: %w", err)
			}
			res, err := d.WorkloadLoginStatus(ctx, g, rule, assertion)
			return expectOutput(res, err, "Logged in using workload identity")
		}},
		{Flows[7], "app-server", func(d *codexcli.Driver, _ *codexcli.Guard) error {
			res, err := d.AppServerDeviceLogin(ctx, approve)
			if err != nil {
				return err
			}
			if !res.Success {
				return fmt.Errorf("account/login/completed reported failure: %s", res.Error)
			}
			return nil
		}},
	}
	for i, s := range steps {
		if i == 3 {
			if err := t.Admin.SetAccessTTL(ctx, 0); err != nil {
				return nil, fmt.Errorf("restore the access-token lifetime: %w", err)
			}
		}
		if err := section(s.name, s.home, s.run); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func loggedIn(d *codexcli.Driver, res codexcli.Result, err error) error {
	if err != nil {
		return err
	}
	a, aerr := d.ReadAuth()
	if res.ExitCode != 0 || aerr != nil || a.Tokens == nil || a.Tokens.RefreshToken == "" {
		return fmt.Errorf("login: exit %d: %s", res.ExitCode, codexcli.ErrorLine(res.Output()))
	}
	return nil
}

func expectOutput(res codexcli.Result, err error, want string) error {
	if err != nil {
		return err
	}
	if !strings.Contains(res.Output(), want) {
		return fmt.Errorf("%q not printed: exit %d: %s", want, res.ExitCode, codexcli.ErrorLine(res.Output()))
	}
	return nil
}
