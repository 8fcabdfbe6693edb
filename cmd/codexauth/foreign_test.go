package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/internal/foreignissuer"
	"github.com/codexauth/codexauth/internal/testutil"
)

// TestForeignIssuerVerdicts judges the defective variants of an issuer
// written without this code (internal/foreignissuer) as a user would:
// each fails with its root cause first, the specs that build on the broken
// step are blocked (never passed vacuously), the defects hidden behind
// another one are still found, and a second run gives the same verdict.
// (`codexauth selftest` judges every variant, conformant ones included.)
func TestForeignIssuerVerdicts(t *testing.T) {
	self := testutil.Build(t)
	var variants []foreignissuer.Variant
	for _, v := range foreignissuer.Variants {
		if !v.Conformant || v.Name == "grace-2s" {
			variants = append(variants, v)
		}
	}
	verdicts := judgeForeign(context.Background(), self, t.TempDir(), variants, 2, testWriter{t})
	byName := map[string]foreignVerdict{}
	for _, v := range verdicts {
		byName[v.Variant.Name] = v
		if !v.ok() {
			t.Errorf("%s: %s; want %s", v.Variant.Name, v.summary(), map[bool]string{true: "exit 0", false: "exit 1 with root cause " + strings.Join(v.Variant.RootCauses, ", ")}[v.Variant.Conformant])
		}
		for _, rr := range v.Report.Requirements {
			if rr.State == report.Blocked {
				t.Logf("%s: %s blocked by %s", v.Variant.Name, rr.ID, rr.BlockedBy)
			}
		}
	}
	state := func(variant, id string) (report.State, string) {
		rr, _ := byName[variant].Report.Result(id)
		return rr.State, rr.BlockedBy
	}
	// A registration endpoint that 404s for everyone refuses nothing: the
	// specs about refusing bad registrations are blocked, not passed.
	for _, id := range []string{"CDX-AGENT-010", "CDX-AGENT-012", "CDX-AGENT-013", "CDX-VAL-005", "CDX-VAL-006"} {
		if s, by := state("task-register-404", id); s != report.Blocked || by != "CDX-AGENT-009" {
			t.Errorf("task-register-404: %s is %s (blocked by %q), want blocked by CDX-AGENT-009", id, s, by)
		}
	}
	// Behind the JSON refusal, one error code for every refresh failure is
	// still found: the classification specs ran with form bodies.
	for _, id := range []string{"CDX-REUSE-001", "CDX-ERR-002"} {
		if s, _ := state("refresh-form-only-one-code", id); s != report.Failed {
			t.Errorf("refresh-form-only-one-code: %s is %s, want failed (the one-code defect hides behind the JSON refusal)", id, s)
		}
	}
	// The same target judged twice gets the same verdict.
	again := judgeForeign(context.Background(), self, t.TempDir(), []foreignissuer.Variant{byName["same-second-tokens"].Variant}, 1, testWriter{t})[0]
	if first := byName["same-second-tokens"].Report; !slices.Equal(first.Failures, again.Report.Failures) || first.Verdict != again.Report.Verdict {
		t.Errorf("same-second-tokens judged twice: %s %v, then %s %v", first.Verdict, first.Failures, again.Report.Verdict, again.Report.Failures)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestForeignSplitLayoutWithTheRealCodex: codex's knobs reach the real
// codex. The foreign issuer's split-layout variant serves refresh, revoke,
// the auth API and the ChatGPT backend under paths of its own; conform
// gets them as --refresh-url, --revoke-url, --authapi-base-url and
// --chatgpt-base-url and hands them to codex, whose logins, logout, agent
// identity, personal access token and app-server login must then work.
func TestForeignSplitLayoutWithTheRealCodex(t *testing.T) {
	self, codex := testutil.Build(t), testutil.CodexBin(t)
	var split foreignissuer.Variant
	for _, v := range foreignissuer.Variants {
		if v.Name == "split-layout" {
			split = v
		}
	}
	if !split.Options.SplitLayout {
		t.Fatal("no split-layout variant")
	}
	ctx := context.Background()
	iss, err := foreignissuer.Start(ctx, split.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	dir := t.TempDir()
	args, err := iss.ConformArgs(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := dir + "/report"
	code, rep, err := runConformChild(ctx, self, out, append([]string{"conform", "--quiet", "--codex-bin", codex, "--profile", "codex-cli", "--out", out}, args...))
	if err != nil {
		t.Fatal(err)
	}
	var passed []string
	for _, rr := range rep.Requirements {
		switch rr.State {
		case report.Passed:
			passed = append(passed, rr.ID)
		case report.Failed, report.Blocked:
			t.Errorf("%s %s: %s", rr.ID, rr.State, rr.Reason)
		}
	}
	t.Logf("exit %d, codex-cli passed: %s", code, strings.Join(passed, " "))
	for _, id := range []string{"CDX-CLI-001", "CDX-CLI-006", "CDX-CLI-009", "CDX-CLI-010", "CDX-CLI-011"} {
		if !slices.Contains(passed, id) {
			t.Errorf("%s did not pass against the split layout", id)
		}
	}
}
