package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/internal/foreignissuer"
)

// foreignVerdict is how the suite judged one variant of the foreign issuer
// (internal/foreignissuer: an issuer written without this code).
type foreignVerdict struct {
	Variant  foreignissuer.Variant
	ExitCode int
	Report   report.Report
	Err      error
}

// ok: a conformant variant passes (exit 0: no false alarm); a defective
// one fails (exit 1) with its root cause named first.
func (v foreignVerdict) ok() bool {
	if v.Err != nil {
		return false
	}
	if v.Variant.Conformant {
		return v.ExitCode == report.ExitOK
	}
	want := v.Variant.RootCauses
	return v.ExitCode == report.ExitFailed && len(v.Report.RootCauses) >= len(want) &&
		slices.Equal(v.Report.RootCauses[:len(want)], want)
}

func (v foreignVerdict) summary() string {
	if v.Err != nil {
		return "error: " + v.Err.Error()
	}
	s := fmt.Sprintf("exit %d", v.ExitCode)
	if len(v.Report.RootCauses) > 0 {
		s += ", root causes " + strings.Join(v.Report.RootCauses, ", ")
	}
	if n := v.Report.Profiles; len(n) > 0 {
		blocked := 0
		for _, p := range n {
			blocked += p.Blocked
		}
		if blocked > 0 {
			s += fmt.Sprintf(", %d blocked", blocked)
		}
	}
	return s
}

// judgeForeign starts each variant of the foreign issuer and runs `self
// conform` against it as a user would (its own flags, --approver auto, no
// admin API). It returns the verdicts in variant order.
func judgeForeign(ctx context.Context, self, tmp string, variants []foreignissuer.Variant, parallel int, progress io.Writer) []foreignVerdict {
	out := make([]foreignVerdict, len(variants))
	sem := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, v := range variants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = judgeOneForeign(ctx, self, filepath.Join(tmp, "foreign-"+v.Name), v)
			mu.Lock()
			defer mu.Unlock()
			mark := "ok"
			if !out[i].ok() {
				mark = map[bool]string{true: "FALSE ALARM", false: "MISSED"}[v.Conformant]
			}
			fmt.Fprintf(progress, "  foreign %-28s %-11s %s\n", v.Name, mark, out[i].summary())
		}()
	}
	wg.Wait()
	return out
}

func judgeOneForeign(ctx context.Context, self, dir string, v foreignissuer.Variant) foreignVerdict {
	res := foreignVerdict{Variant: v}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		res.Err = err
		return res
	}
	iss, err := foreignissuer.Start(ctx, v.Options)
	if err != nil {
		res.Err = err
		return res
	}
	defer iss.Close()
	args, err := iss.ConformArgs(dir)
	if err != nil {
		res.Err = err
		return res
	}
	outDir := filepath.Join(dir, "report")
	args = append([]string{"conform", "--quiet", "--no-codex", "--out", outDir}, args...)
	res.ExitCode, res.Report, res.Err = runConformChild(ctx, self, outDir, args)
	return res
}

// foreignTally counts false alarms (conformant variants failed) and misses
// (defective variants passed, or failed for another root cause).
func foreignTally(vs []foreignVerdict) (falseAlarms, conformant, missed, defective int) {
	for _, v := range vs {
		if v.Variant.Conformant {
			conformant++
			if !v.ok() {
				falseAlarms++
			}
		} else {
			defective++
			if !v.ok() {
				missed++
			}
		}
	}
	return
}

// foreignDoc is the foreign-issuer table of docs/faults.md: how the suite
// judged each variant, and the two figures that sum it up.
func foreignDoc(vs []foreignVerdict) string {
	var b strings.Builder
	b.WriteString("| variant | deployment | want | suite's verdict | as wanted |\n|---|---|---|---|---|\n")
	for _, v := range vs {
		want := "exit 0 (no false alarm)"
		if !v.Variant.Conformant {
			want = "exit 1, root cause " + strings.Join(v.Variant.RootCauses, ", ") + " first"
		}
		kind := map[bool]string{true: "conformant", false: "defective"}[v.Variant.Conformant]
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", v.Variant.Name, kind, want, v.summary(), map[bool]string{true: "yes", false: "**no**"}[v.ok()])
	}
	falseAlarms, conformant, missed, defective := foreignTally(vs)
	fmt.Fprintf(&b, "\n`false alarms: %d/%d` · `foreign defects named as root cause: %d/%d`\n", falseAlarms, conformant, defective-missed, defective)
	return b.String()
}
