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
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/harness/oracle"
	"github.com/codexauth/codexauth/harness/registry"
	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/internal/builtin"
	"github.com/codexauth/codexauth/internal/foreignissuer"
	"github.com/codexauth/codexauth/issuer/faults"
)

const selftestSynopsis = `Proves the conformance suite catches every defect of the fault catalogue: for each fault it
starts the built-in issuer with that fault on, runs the profiles the fault concerns (strict), and
checks that the run fails and that every requirement id the catalogue names is among the failures.
A run without faults must pass. Ends with "mutation score: CAUGHT/TOTAL (P%)"; exits 1 when a
fault is missed or the fault-free run fails.`

// builtinGrace is the built-in issuer's reuse grace window for conform and
// the oracle alike: both must judge the same issuer.
const builtinGrace = 10 * time.Second

// faultResult is one row of the matrix.
type faultResult struct {
	Fault    faults.Fault
	ExitCode int
	Failed   []string
	// MustFailed are the failed MUST requirements: the suite's verdict
	// that codex users would fail.
	MustFailed []string
	Missing    []string
	Err        error
	Duration   time.Duration
}

func (r faultResult) caught() bool {
	return r.Err == nil && r.ExitCode == report.ExitFailed && len(r.Missing) == 0
}

func runSelftest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("selftest", selftestSynopsis, stderr)
	only := multiFlag{}
	fs.Var(&only, "fault", "test only this fault (repeatable; default: the whole catalogue)")
	parallel := fs.Int("parallel", 2, "faults tested at once")
	doc := fs.String("doc", "", "rewrite the generated tables of this Markdown file (docs/faults.md)")
	codexBin := fs.String("codex-bin", "", "real codex binary for the agreement check (default: CODEXAUTH_CODEX_BIN or the install cache)")
	noOracle := fs.Bool("no-oracle", false, "skip the agreement check with the real codex CLI")
	codexVersions := fs.String("codex-versions", "", "run the version matrix instead: for each codex release in this comma-separated list (installed when missing), the codex-cli profile and the agreement oracle; with --doc, write that table (docs/codex-versions.md)")
	if err := parseFlags(fs, args); err != nil {
		return flagFailure(stderr, "selftest", err)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "codexauth selftest: %v\n", err)
		return report.ExitRuntime
	}
	tmp, err := os.MkdirTemp("", "codexauth-selftest-")
	if err != nil {
		fmt.Fprintf(stderr, "codexauth selftest: %v\n", err)
		return report.ExitRuntime
	}
	defer os.RemoveAll(tmp)
	if *codexVersions != "" {
		list, err := parseVersionList(*codexVersions)
		if err == nil && (len(only) > 0 || *noOracle || *codexBin != "") {
			err = errors.New("--codex-versions takes no --fault, --no-oracle or --codex-bin")
		}
		if err != nil {
			fmt.Fprintf(stderr, "codexauth selftest: %v\n", err)
			return report.ExitUsage
		}
		return runVersionMatrix(ctx, self, tmp, list, *parallel, *doc, stdout, stderr)
	}

	catalogue := faults.All()
	if len(only) > 0 {
		var sel []faults.Fault
		for _, n := range only {
			f, ok := faults.Lookup(n)
			if !ok {
				fmt.Fprintf(stderr, "codexauth selftest: unknown fault %q\n", n)
				return report.ExitUsage
			}
			sel = append(sel, f)
		}
		catalogue = sel
	}
	start := time.Now()
	fmt.Fprintf(stdout, "codexauth selftest: %d faults, %d at a time\n", len(catalogue), *parallel)

	// (c) the fault-free issuer fails nothing, in every profile the faults use.
	// Every profile but codex-cli: the real codex is the oracle's, below.
	var baseProfiles []string
	for _, p := range registry.Profiles {
		if p != registry.ProfileCodexCLI {
			baseProfiles = append(baseProfiles, string(p))
		}
	}
	base := conformRun(ctx, self, tmp, "baseline", nil, baseProfiles, nil)
	baseOK := base.Err == nil && base.ExitCode == 0 && len(base.Failed) == 0
	fmt.Fprintf(stdout, "fault-free baseline: exit %d, %d failed %v\n", base.ExitCode, len(base.Failed), base.Failed)
	if base.Err != nil {
		fmt.Fprintf(stdout, "  error: %v\n", base.Err)
	}
	strict := conformRun(ctx, self, tmp, "baseline-no-grace", nil, []string{string(registry.ProfileReuse)}, []string{"--builtin-reuse-grace", "0s"})
	if strict.Err != nil || strict.ExitCode != 0 || len(strict.Failed) > 0 {
		baseOK = false
	}
	fmt.Fprintf(stdout, "fault-free baseline without a reuse grace window: exit %d, %d failed %v\n", strict.ExitCode, len(strict.Failed), strict.Failed)

	results := make([]faultResult, len(catalogue))
	sem := make(chan struct{}, max(1, *parallel))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, f := range catalogue {
		wg.Add(1)
		go func(i int, f faults.Fault) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := conformRun(ctx, self, tmp, f.Name, []string{f.Name}, f.Profiles, f.Args)
			r.Fault = f
			for _, id := range f.Catches {
				if !slices.Contains(r.Failed, id) {
					r.Missing = append(r.Missing, id)
				}
			}
			results[i] = r
			mu.Lock()
			done++
			state := "caught"
			if !r.caught() {
				state = "MISSED"
			}
			fmt.Fprintf(stdout, "[%2d/%d] %-30s %s\n", done, len(catalogue), f.Name, state)
			mu.Unlock()
		}(i, f)
	}
	wg.Wait()

	caught := 0
	var table bytes.Buffer
	fmt.Fprintf(&table, "| fault | breaks | expected ids | verdict | all failing ids |\n|---|---|---|---|---|\n")
	for _, r := range results {
		verdict := "caught"
		if r.caught() {
			caught++
		} else {
			verdict = "**missed**"
			if r.Err != nil {
				verdict += ": " + r.Err.Error()
			} else if r.ExitCode != report.ExitFailed {
				verdict += fmt.Sprintf(": exit %d", r.ExitCode)
			} else {
				verdict += ": " + strings.Join(r.Missing, ", ") + " passed"
			}
		}
		fmt.Fprintf(&table, "| `%s` | %s | %s | %s | %s |\n", r.Fault.Name, r.Fault.Breaks, strings.Join(r.Fault.Catches, ", "), verdict, strings.Join(r.Failed, ", "))
	}
	pct := 0.0
	if len(results) > 0 {
		pct = 100 * float64(caught) / float64(len(results))
	}
	score := fmt.Sprintf("mutation score: %d/%d (%.0f%%)", caught, len(results), pct)
	fmt.Fprintf(stdout, "\n%s\n", table.String())
	fmt.Fprintf(stdout, "fault-free baseline: %s\n", map[bool]string{true: "passes", false: "FAILS"}[baseOK])
	fmt.Fprintf(stdout, "\nforeign issuer (written without this code; --approver auto, no admin API):\n")
	foreign := judgeForeign(ctx, self, tmp, foreignissuer.Variants, *parallel, stdout)
	falseAlarms, conformant, missed, defective := foreignTally(foreign)
	fmt.Fprintf(stdout, "self-test took %.1fs\n%s\nfalse alarms: %d/%d\nforeign defects named as root cause: %d/%d\n",
		time.Since(start).Seconds(), score, falseAlarms, conformant, defective-missed, defective)
	agreeOK, agreement := true, ""
	if !*noOracle {
		bin, err := codexcli.Find(*codexBin)
		if err != nil {
			fmt.Fprintf(stderr, "codexauth selftest: the agreement check needs the real codex: %v (or pass --no-oracle)\n", err)
			return report.ExitUsage
		}
		agreeOK, agreement = runOracle(ctx, bin, tmp, results, base, *parallel, stdout)
	}
	if *doc != "" {
		if err := writeFaultDoc(*doc, table.String(), score, foreignDoc(foreign), agreement); err != nil {
			fmt.Fprintf(stderr, "codexauth selftest: %v\n", err)
			return report.ExitRuntime
		}
	}
	if caught != len(results) || !baseOK || !agreeOK || falseAlarms > 0 || missed > 0 {
		return report.ExitFailed
	}
	return report.ExitOK
}

// conformRun runs `codexauth conform` on the built-in issuer in a child
// process (Ginkgo runs one suite per process) and reads its report.
func conformRun(ctx context.Context, self, tmp, name string, fault, profiles, extra []string) faultResult {
	start := time.Now()
	out := filepath.Join(tmp, name)
	args := []string{"conform", "--strict", "--quiet", "--no-codex", "--out", out}
	for _, f := range fault {
		args = append(args, "--fault", f)
	}
	for _, p := range profiles {
		args = append(args, "--profile", p)
	}
	args = append(args, extra...)
	code, rep, err := runConformChild(ctx, self, out, args)
	r := faultResult{Duration: time.Since(start), ExitCode: code, Err: err}
	if err != nil {
		return r
	}
	for _, rr := range rep.Requirements {
		if rr.State == report.Failed {
			r.Failed = append(r.Failed, rr.ID)
			if rr.Level == registry.MUST {
				r.MustFailed = append(r.MustFailed, rr.ID)
			}
		}
	}
	sort.Strings(r.Failed)
	return r
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

const (
	matrixBegin = "<!-- selftest matrix: generated by `codexauth selftest --doc docs/faults.md` -->"
	matrixEnd   = "<!-- end of selftest matrix -->"
)

// writeFaultDoc rewrites docs/faults.md: the catalogue (from code) and the
// self-test matrix between markers.
func writeFaultDoc(path, matrix, score, foreign, agreement string) error {
	var b strings.Builder
	b.WriteString("# Fault catalogue\n\n")
	b.WriteString("The reference issuer can switch on deliberate defects (`codexauth serve --fault NAME`, repeatable, or\n")
	b.WriteString("`PUT /__admin/faults`). Each breaks one behaviour codex relies on; `codexauth selftest` proves the conformance\n")
	b.WriteString("suite fails on every one of them with the requirement ids listed here. The catalogue lives in\n")
	b.WriteString("[`issuer/faults/catalogue.go`](../issuer/faults/catalogue.go); this page is generated from it.\n\n")
	b.WriteString("| fault | what breaks | contract | what real codex 0.169.0 does | profiles | must fail |\n|---|---|---|---|---|---|\n")
	for _, f := range faults.All() {
		codex := f.Codex
		if codex == "" {
			codex = "nothing visible: only the suite can tell"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", f.Name, f.Breaks, f.Contract, codex, strings.Join(f.Profiles, ", "), strings.Join(f.Catches, ", "))
	}
	fmt.Fprintf(&b, "\n## Self-test matrix\n\n%s\n\n%s\n`%s`\n\n%s\n", matrixBegin, matrix, score, matrixEnd)
	b.WriteString("\n## A foreign issuer\n\n")
	b.WriteString("`internal/foreignissuer` is an issuer written without this code, in conformant and defective variants. The\n")
	b.WriteString("self-test runs the suite against each as a user would (`--approver auto`, no admin API): a conformant variant must\n")
	b.WriteString("pass (a failure is a false alarm), a defective one must fail with its defect named first among the root causes.\n\n")
	b.WriteString(foreign + "\n")
	if agreement != "" {
		b.WriteString("\n## Agreement with the real codex 0.169.0\n\n")
		b.WriteString("For every fault that changes what codex itself observes, the real codex runs the flow against the built-in issuer\n")
		b.WriteString("with the fault on. The suite agrees when it reports a MUST failure exactly where codex fails.\n\n")
		b.WriteString(agreement + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// agreement is one row of the oracle table.
type agreement struct {
	fault, flow string
	codex       oracle.Outcome
	suiteFails  []string
	err         error
}

// agrees: where codex fails, the suite reports a MUST failure; where codex
// succeeds, the suite reports none — except security MUSTs (a stolen or
// revoked credential that keeps working, which codex cannot notice).
func (a agreement) agrees() bool {
	if a.err != nil {
		return false
	}
	if a.codex.Failed {
		return len(a.suiteFails) > 0
	}
	for _, id := range a.suiteFails {
		if r, ok := registry.Lookup(id); !ok || !r.Security() {
			return false
		}
	}
	return true
}

// runOracle runs the real codex for the fault-free issuer and for every
// fault codex can observe, and compares its outcome with the suite's.
func runOracle(ctx context.Context, bin, tmp string, results []faultResult, base faultResult, parallel int, stdout io.Writer) (bool, string) {
	var rows []agreement
	for _, flow := range oracle.Flows {
		rows = append(rows, agreement{fault: "(none)", flow: flow, suiteFails: base.MustFailed})
	}
	for _, r := range results {
		if r.Fault.Flow != "" {
			rows = append(rows, agreement{fault: r.Fault.Name, flow: r.Fault.Flow, suiteFails: r.MustFailed})
		}
	}
	fmt.Fprintf(stdout, "\nagreement with the real codex: %d flows\n", len(rows))
	sem := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	for i := range rows {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var faultsOn []string
			if rows[i].fault != "(none)" {
				faultsOn = []string{rows[i].fault}
			}
			dir, err := os.MkdirTemp(tmp, "oracle-")
			if err == nil {
				rows[i].codex, err = oracle.Run(ctx, builtin.Start, bin, rows[i].flow, faultsOn, builtinGrace, dir)
			}
			rows[i].err = err
		}(i)
	}
	wg.Wait()
	var t bytes.Buffer
	fmt.Fprintf(&t, "| fault | flow | real codex | suite MUST failures | agree |\n|---|---|---|---|---|\n")
	agreed := 0
	for _, a := range rows {
		codex := a.codex.Summary
		if a.codex.Failed {
			codex = "**fails**: " + codex
		}
		if a.err != nil {
			codex = "error: " + a.err.Error()
		}
		suite := strings.Join(a.suiteFails, ", ")
		if suite == "" {
			suite = "none"
		}
		mark := "yes"
		if a.agrees() {
			agreed++
		} else {
			mark = "**NO**"
		}
		fmt.Fprintf(&t, "| `%s` | %s | %s | %s | %s |\n", a.fault, a.flow, strings.ReplaceAll(codex, "|", "\\|"), suite, mark)
	}
	line := fmt.Sprintf("agreement: %d/%d (%.0f%%)", agreed, len(rows), 100*float64(agreed)/float64(len(rows)))
	fmt.Fprintf(stdout, "\n%s\n%s\n", t.String(), line)
	return agreed == len(rows), t.String() + "\n`" + line + "`\n"
}

// runConformChild runs `self args…` (a conform run writing its reports
// into outDir) in a child process — Ginkgo runs one suite per process — and
// reads its conformance report.
func runConformChild(ctx context.Context, self, outDir string, args []string) (exitCode int, rep report.Report, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		exitCode = ee.ExitCode()
	} else if err != nil {
		return 0, rep, err
	}
	b, rerr := os.ReadFile(filepath.Join(outDir, "conformance.yaml"))
	if rerr != nil {
		return exitCode, rep, fmt.Errorf("no report (exit %d): %s", exitCode, lastLines(logs.String(), 5))
	}
	err = yaml.Unmarshal(b, &rep)
	return exitCode, rep, err
}
