package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/capture"
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

// versionScenario is an issuer behaviour outside the fault catalogue that
// codex releases meet differently.
type versionScenario struct {
	name, flow, breaks string
	// wrap puts the behaviour in front of the built-in issuer's handler.
	wrap func(next http.Handler, publicURL string) http.Handler
}

var versionScenarios = []versionScenario{{
	name: "gzip-unasked", flow: oracle.FlowDeviceLogin,
	breaks: "every answer gzip-compressed, asked for or not (a proxy that compresses everything)",
	wrap:   gzipEverything,
}}

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

func scenarioNamed(name string) *versionScenario {
	for i := range versionScenarios {
		if versionScenarios[i].name == name {
			return &versionScenarios[i]
		}
	}
	return nil
}

// scenarioSuiteRun runs the profiles of a scenario's flow (core) against
// the built-in issuer behind the scenario, speaking as version.
func scenarioSuiteRun(ctx context.Context, self, tmp, version string, s versionScenario) faultResult {
	iss, err := wrappedBuiltin(s.wrap)(ctx, harness.BuiltinOptions{ReuseGrace: builtinGrace})
	if err != nil {
		return faultResult{Err: err}
	}
	defer iss.Close()
	return conformRun(ctx, self, tmp, "suite-"+version+"-"+s.name, nil, []string{string(registry.ProfileCore)},
		[]string{"--issuer", iss.URL, "--admin-token", iss.AdminToken, "--codex-version", version})
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

// versionTable is the version × flow table: per cell, the codex-cli
// requirements of the flow that passed, then the oracle rows of the flow
// where the suite agrees with that release of codex.
func versionTable(vs []versionRow) (table, details string, allAgree bool) {
	var t, d strings.Builder
	t.WriteString("| codex |")
	for _, f := range matrixFlows {
		t.WriteString(" " + f.name + " |")
	}
	t.WriteString(" codex-cli profile | agreement |\n|---|")
	for range matrixFlows {
		t.WriteString("---|")
	}
	t.WriteString("---|---|\n")
	allAgree = true
	for _, v := range vs {
		fmt.Fprintf(&t, "| %s |", v.version)
		for _, f := range matrixFlows {
			passed := 0
			for _, id := range f.cli {
				if v.cli[id] == report.Passed {
					passed++
				}
			}
			cell := fmt.Sprintf("%d/%d", passed, len(f.cli))
			agreed, total := 0, 0
			for _, a := range v.rows {
				if a.flow == f.name {
					total++
					if a.agrees() {
						agreed++
					}
				}
			}
			if total > 0 {
				cell += fmt.Sprintf(" · %d/%d", agreed, total)
			}
			if passed < len(f.cli) || agreed < total {
				cell = "**" + cell + "**"
			}
			t.WriteString(" " + cell + " |")
		}
		passed, total := 0, 0
		for _, r := range registry.Requirements {
			if r.Profile == registry.ProfileCodexCLI {
				total++
				if v.cli[r.ID] == report.Passed {
					passed++
				}
			}
		}
		agreed := 0
		for _, a := range v.rows {
			if a.agrees() {
				agreed++
			}
		}
		pct := 100 * float64(agreed) / float64(max(1, len(v.rows)))
		fmt.Fprintf(&t, " %d/%d | %d/%d (%.0f%%) |\n", passed, total, agreed, len(v.rows), pct)
		if v.err != nil || v.cliErr != nil || agreed < len(v.rows) || passed < total {
			allAgree = false
		}
		if v.err != nil {
			fmt.Fprintf(&d, "* codex %s: %v\n", v.version, v.err)
		}
		if v.cliErr != nil {
			fmt.Fprintf(&d, "* codex %s: the codex-cli profile did not run: %v\n", v.version, v.cliErr)
		}
		for _, a := range v.rows {
			if !a.agrees() {
				what := a.codex.Summary
				if a.err != nil {
					what = "error: " + a.err.Error()
				}
				fmt.Fprintf(&d, "* codex %s, `%s` in %s: codex failed=%v (%s); suite MUST failures: %s\n", v.version, a.fault, a.flow,
					a.codex.Failed, what, strings.Join(a.suiteFails, ", "))
			}
		}
	}
	// How the version scenarios went, release by release.
	for _, s := range versionScenarios {
		fmt.Fprintf(&d, "\nVersion scenario `%s` (%s), flow %s:\n\n| codex | real codex | suite MUST failures (speaking as that release) | agree |\n|---|---|---|---|\n", s.name, s.breaks, s.flow)
		for _, v := range vs {
			for _, a := range v.rows {
				if a.fault != s.name {
					continue
				}
				codex := a.codex.Summary
				if a.codex.Failed {
					codex = "**fails**: " + codex
				}
				suite := strings.Join(a.suiteFails, ", ")
				if suite == "" {
					suite = "none"
				}
				fmt.Fprintf(&d, "| %s | %s | %s | %s |\n", v.version, strings.ReplaceAll(codex, "|", "\\|"), suite, map[bool]string{true: "yes", false: "**NO**"}[a.agrees()])
			}
		}
	}
	return t.String(), d.String(), allAgree
}

// driftSection is the protocol drift of each release from the pinned one,
// read from the captures kept in fixtures/golden (`codexauth capture`).
func driftSection(versions []string) string {
	var b strings.Builder
	basePath := findUp(goldenCapture(codexcli.Version))
	if basePath == "" {
		return "protocol drift: no capture of the pinned release found (run scripts/codex-matrix.sh from the repository)\n"
	}
	base, err := readCapture(basePath)
	if err != nil {
		return fmt.Sprintf("protocol drift: %v\n", err)
	}
	sorted := slices.Clone(versions)
	sort.Slice(sorted, func(i, j int) bool { return codexcli.CompareVersions(sorted[i], sorted[j]) < 0 })
	for _, v := range sorted {
		if v == codexcli.Version {
			continue
		}
		p := findUp(goldenCapture(v))
		if p == "" {
			fmt.Fprintf(&b, "protocol drift %s → %s: no capture kept (codexauth capture --codex-version %s --out %s)\n", codexcli.Version, v, v, goldenCapture(v))
			continue
		}
		c, err := readCapture(p)
		if err != nil {
			fmt.Fprintf(&b, "protocol drift %s → %s: %v\n", codexcli.Version, v, err)
			continue
		}
		capture.Report(&b, base, c, capture.Diff(base, c))
	}
	return b.String()
}

func readCapture(path string) (*capture.Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := capture.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func writeVersionDoc(path string, versions []string, table, details, drift string) error {
	var b strings.Builder
	b.WriteString("# codex versions\n\n")
	b.WriteString("<!-- Generated by scripts/codex-matrix.sh (`codexauth selftest --codex-versions " + strings.Join(versions, ",") + " --doc docs/codex-versions.md`); do not edit. -->\n\n")
	fmt.Fprintf(&b, "The suite speaks for one codex release at a time: the pinned %s by default, another with `conform --codex-version V`\n", codexcli.Version)
	b.WriteString("(or `--codex-bin`). The version matrix runs, for each release below, the codex-cli profile with that release's binary and\n")
	b.WriteString("the agreement oracle: the real codex of that release against the built-in issuer with every fault of the catalogue that\n")
	b.WriteString("codex can observe (and the version scenarios), compared with the suite's MUST verdict when it speaks for that release.\n\n")
	b.WriteString("Each cell: codex-cli requirements of the flow passed · oracle rows of the flow where suite and codex agree.\n\n")
	b.WriteString(table)
	if strings.TrimSpace(details) != "" {
		b.WriteString("\n" + details)
	}
	b.WriteString("\n## Protocol drift from " + codexcli.Version + "\n\n")
	b.WriteString("What each release sends that the pinned one does not (or no longer), from the captures in `fixtures/golden/capture-codex-*.txt`\n")
	b.WriteString("(`codexauth capture --codex-version V`). What it means for an issuer is in the contract, §12.1.\n\n```\n")
	b.WriteString(drift)
	b.WriteString("```\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// gzipEverything compresses every answer with gzip, asked for or not.
func gzipEverything(next http.Handler, _ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(rec.body.Bytes())
		_ = zw.Close()
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(z.Len()))
		w.WriteHeader(rec.status)
		_, _ = w.Write(z.Bytes())
	})
}

type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(code int)        { b.status = code }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

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
