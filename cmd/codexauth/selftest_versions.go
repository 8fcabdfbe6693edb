package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/harness/oracle"
	"github.com/codexauth/codexauth/harness/registry"
	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/internal/builtin"
	"github.com/codexauth/codexauth/issuer/faults"
)

// The version matrix (`codexauth selftest --codex-versions LIST`): for
// each codex release, the codex-cli profile with that binary, and the
// agreement oracle — the real codex of that release against the built-in
// issuer with each fault of the catalogue that codex can observe, compared
// with the suite's verdict when it speaks for that release — plus the
// version scenarios: deliberate issuer behaviours that releases meet
// differently (contract §12.1).

// matrixFlows are the table's columns: the oracle's flows, and the
// codex-cli requirements that run each.
var matrixFlows = []struct {
	name string
	cli  []string
}{
	{oracle.FlowDeviceLogin, []string{"CDX-CLI-001", "CDX-CLI-007"}},
	{oracle.FlowBrowserLogin, []string{"CDX-CLI-002", "CDX-CLI-003"}},
	{oracle.FlowBrowserFallback, []string{"CDX-CLI-008"}},
	{oracle.FlowRefresh, []string{"CDX-CLI-004", "CDX-CLI-005"}},
	{"logout", []string{"CDX-CLI-006"}},
	{oracle.FlowAgentIdentity, []string{"CDX-CLI-009"}},
	{oracle.FlowPATLogin, []string{"CDX-CLI-010"}},
	{oracle.FlowWorkloadLogin, []string{"CDX-CLI-012"}},
	{"app-server-login", []string{"CDX-CLI-011"}},
}

// versionRow is one codex release of the matrix.
type versionRow struct {
	version, bin string
	err          error
	// cli is the codex-cli profile's state per requirement id.
	cli    map[string]report.State
	cliErr error
	rows   []agreement
}

func runVersionMatrix(ctx context.Context, self, tmp string, list []string, parallel int, doc string, stdout, stderr io.Writer) int {
	start := time.Now()
	var vs []versionRow
	for _, v := range list {
		bin, err := resolveCodex(ctx, "", v, stderr)
		if err == nil {
			var got string
			if got, err = codexcli.BinaryVersion(ctx, bin); err == nil && got != v {
				err = fmt.Errorf("the binary reports %s", got)
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "codexauth selftest: codex %s: %v\n", v, err)
			return report.ExitUsage
		}
		vs = append(vs, versionRow{version: v, bin: bin})
	}
	var observable []faults.Fault
	for _, f := range faults.All() {
		if f.Flow != "" {
			observable = append(observable, f)
		}
	}
	fmt.Fprintf(stdout, "codexauth selftest: codex versions %s — codex-cli profile, %d oracle flows and %d faults codex observes, %d version scenario(s) each\n",
		strings.Join(list, ", "), len(oracle.Flows), len(observable), len(versionScenarios))

	// The suite's verdicts depend on the release only through its wire
	// dialect: run them once per dialect, speaking as its first release.
	type verdicts struct {
		base      faultResult
		faults    map[string]faultResult
		scenarios map[string]faultResult
	}
	dialects := map[string]*verdicts{}
	dialectKey := func(v string) string {
		d := wire.DialectOf(v)
		return d.AcceptEncoding + "|" + d.LoginAcceptEncoding
	}
	sem := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	var mu sync.Mutex
	job := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			f()
		}()
	}
	var baseProfiles []string
	for _, p := range registry.Profiles {
		if p != registry.ProfileCodexCLI {
			baseProfiles = append(baseProfiles, string(p))
		}
	}
	for _, row := range vs {
		key := dialectKey(row.version)
		if dialects[key] != nil {
			continue
		}
		d := &verdicts{faults: map[string]faultResult{}, scenarios: map[string]faultResult{}}
		dialects[key] = d
		v := row.version
		speak := []string{"--codex-version", v}
		job(func() {
			r := conformRun(ctx, self, tmp, "suite-"+v+"-baseline", nil, baseProfiles, speak)
			mu.Lock()
			d.base = r
			mu.Unlock()
		})
		for _, f := range observable {
			job(func() {
				r := conformRun(ctx, self, tmp, "suite-"+v+"-"+f.Name, []string{f.Name}, f.Profiles, append(append([]string(nil), f.Args...), speak...))
				mu.Lock()
				d.faults[f.Name] = r
				mu.Unlock()
			})
		}
		for _, s := range versionScenarios {
			job(func() {
				r := scenarioSuiteRun(ctx, self, tmp, v, s)
				mu.Lock()
				d.scenarios[s.name] = r
				mu.Unlock()
			})
		}
	}
	for i := range vs {
		row := &vs[i]
		job(func() {
			cli, err := codexCLIRun(ctx, self, tmp, row.bin, row.version)
			mu.Lock()
			row.cli, row.cliErr = cli, err
			mu.Unlock()
		})
	}
	wg.Wait()
	fmt.Fprintf(stdout, "suite verdicts: %d dialect(s) in %.0fs\n", len(dialects), time.Since(start).Seconds())

	// The oracle: every release observes the same rows.
	for i := range vs {
		row := &vs[i]
		d := dialects[dialectKey(row.version)]
		if d.base.Err != nil || d.base.ExitCode != 0 || len(d.base.Failed) > 0 {
			row.err = fmt.Errorf("the fault-free suite run speaking as %s fails: exit %d %v %v", row.version, d.base.ExitCode, d.base.Failed, d.base.Err)
		}
		for _, flow := range oracle.Flows {
			row.rows = append(row.rows, agreement{fault: "(none)", flow: flow, suiteFails: d.base.MustFailed})
		}
		for _, f := range observable {
			r := d.faults[f.Name]
			a := agreement{fault: f.Name, flow: f.Flow, suiteFails: r.MustFailed, err: r.Err}
			row.rows = append(row.rows, a)
		}
		for _, s := range versionScenarios {
			r := d.scenarios[s.name]
			row.rows = append(row.rows, agreement{fault: s.name, flow: s.flow, suiteFails: r.MustFailed, err: r.Err})
		}
	}
	done := 0
	for i := range vs {
		row := &vs[i]
		for j := range row.rows {
			a := &row.rows[j]
			job(func() {
				out, err := oracleRun(ctx, tmp, row.bin, a.fault, a.flow)
				if err == nil && out.Version != row.version {
					err = fmt.Errorf("the oracle ran codex %q, not %s", out.Version, row.version)
				}
				mu.Lock()
				defer mu.Unlock()
				if a.err == nil {
					a.err = err
				}
				a.codex = out
				done++
				if done%25 == 0 {
					fmt.Fprintf(stdout, "oracle: %d/%d runs\n", done, len(vs)*len(row.rows))
				}
			})
		}
	}
	wg.Wait()

	table, details, allAgree := versionTable(vs)
	drift := driftSection(list)
	fmt.Fprintf(stdout, "\n%s\n%s\n%s", table, details, drift)
	fmt.Fprintf(stdout, "version matrix took %.0fs\n", time.Since(start).Seconds())
	if doc != "" {
		if err := writeVersionDoc(doc, list, table, details, drift); err != nil {
			fmt.Fprintf(stderr, "codexauth selftest: %v\n", err)
			return report.ExitRuntime
		}
	}
	if !allAgree {
		return report.ExitFailed
	}
	return report.ExitOK
}

// oracleRun runs one oracle flow of a release: with a fault of the
// catalogue on, or behind a version scenario.
func oracleRun(ctx context.Context, tmp, bin, fault, flow string) (oracle.Outcome, error) {
	dir, err := os.MkdirTemp(tmp, "oracle-")
	if err != nil {
		return oracle.Outcome{}, err
	}
	start := harness.StartBuiltin(builtin.Start)
	var on []string
	switch s := scenarioNamed(fault); {
	case s != nil:
		start = wrappedBuiltin(s.wrap)
	case fault != "(none)":
		on = []string{fault}
	}
	return oracle.Run(ctx, start, bin, flow, on, builtinGrace, dir)
}

// codexCLIRun runs the codex-cli profile with one release's binary and
// returns each requirement's state.
func codexCLIRun(ctx context.Context, self, tmp, bin, version string) (map[string]report.State, error) {
	out := filepath.Join(tmp, "codex-cli-"+version)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "conform", "--quiet", "--profile", string(registry.ProfileCodexCLI), "--codex-bin", bin, "--out", out)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return nil, err
	}
	b, rerr := os.ReadFile(filepath.Join(out, "conformance.yaml"))
	if rerr != nil {
		return nil, fmt.Errorf("no report: %s", lastLines(logs.String(), 5))
	}
	var rep report.Report
	if err := yaml.Unmarshal(b, &rep); err != nil {
		return nil, err
	}
	if rep.CodexVersion != version {
		return nil, fmt.Errorf("the report says codex %q ran, not %s", rep.CodexVersion, version)
	}
	states := map[string]report.State{}
	for _, r := range rep.Requirements {
		states[r.ID] = r.State
	}
	return states, nil
}

// parseVersionList reads "0.166.0,0.171.0" (spaces allowed).
func parseVersionList(s string) ([]string, error) {
	var out []string
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !codexcli.ValidVersion(v) {
			return nil, fmt.Errorf("--codex-versions: %q is not an exact version such as %s", v, codexcli.Version)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--codex-versions: no version given")
	}
	return out, nil
}
