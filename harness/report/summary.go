package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/codexauth/codexauth/harness/registry"
)

// PrintSummary writes the end-of-run table, the root causes with what each
// blocked, what could not run, and the verdict.
func (r Report) PrintSummary(w io.Writer) {
	fmt.Fprintf(w, "\n%-16s %-9s %7s %7s %8s %8s %7s\n", "profile", "required", "passed", "failed", "blocked", "not-run", "waived")
	for _, p := range registry.Profiles {
		ps, ok := r.Profiles[p]
		if !ok {
			continue
		}
		req := "no"
		if ps.Required {
			req = "yes"
		}
		fmt.Fprintf(w, "%-16s %-9s %7d %7d %8d %8d %7d\n", p, req, ps.Passed, ps.Failed, ps.Blocked, ps.NotRun, ps.Waived)
	}
	byID := map[string]RequirementResult{}
	for _, rr := range r.Requirements {
		byID[rr.ID] = rr
	}
	if len(r.RootCauses) > 0 {
		fmt.Fprintf(w, "\nFailed requirements, root causes first:\n")
		for _, id := range r.RootCauses {
			rr := byID[id]
			fmt.Fprintf(w, "  %-16s %-6s %s\n  %16s        → %s\n", rr.ID, rr.Level, rr.Title, "", oneLine(rr.Reason))
			if rr.Impact != "" {
				fmt.Fprintf(w, "  %16s        impact: %s\n", "", rr.Impact)
			}
			if rr.Attack != "" {
				fmt.Fprintf(w, "  %16s        attacker gains: %s\n", "", rr.Attack)
			}
			if len(rr.Blocks) > 0 {
				fmt.Fprintf(w, "  %16s        blocked %d: %s\n", "", len(rr.Blocks), strings.Join(rr.Blocks, ", "))
			}
		}
	}
	var blocked, notRun []RequirementResult
	for _, rr := range r.Requirements {
		switch {
		case rr.State == Blocked && byID[rr.BlockedBy].State != Failed:
			blocked = append(blocked, rr)
		case rr.State == NotRun:
			notRun = append(notRun, rr)
		}
	}
	if len(blocked) > 0 {
		fmt.Fprintf(w, "\nBlocked by a step that did not fail in its own spec (intermittent, or its spec could not run):\n")
		for _, rr := range blocked {
			fmt.Fprintf(w, "  %-16s %-6s blocked by %s (%s there): %s\n", rr.ID, rr.Level, rr.BlockedBy, stateOf(byID, rr.BlockedBy), oneLine(rr.Reason))
		}
	}
	if len(notRun) > 0 {
		fmt.Fprintf(w, "\nNot run:\n")
		for _, rr := range notRun {
			fmt.Fprintf(w, "  %-16s %-6s %s\n", rr.ID, rr.Level, oneLine(rr.Reason))
		}
	}
	var waited []string
	for _, rr := range r.Requirements {
		if rr.Waited != "" {
			waited = append(waited, rr.ID+" "+rr.Waited)
		}
	}
	if len(waited) > 0 {
		fmt.Fprintf(w, "\nWaited for real expiry (no clock control): %s\n", strings.Join(waited, ", "))
	}
	for _, sw := range r.StaleWaivers {
		fmt.Fprintf(w, "\nStale waiver: %s (%s) matches no failed or not-run requirement: remove it\n", sw.ID, sw.Reason)
	}
	fmt.Fprintf(w, "\nVerdict: %s", strings.ToUpper(r.Verdict))
	switch r.Verdict {
	case "non-conformant":
		label := "MUST failed"
		if r.Strict {
			label = "failed (strict)"
		}
		fmt.Fprintf(w, " — %s: %s", label, strings.Join(r.Failures, ", "))
	case "incomplete":
		fmt.Fprintf(w, " — required MUST requirements not run: %s", strings.Join(r.Incomplete, ", "))
	}
	fmt.Fprintln(w)
}

func stateOf(byID map[string]RequirementResult, id string) string {
	if rr, ok := byID[id]; ok {
		return string(rr.State)
	}
	return "not selected"
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		rest := strings.TrimSpace(s[i+1:])
		s = s[:i]
		// Gomega puts the interesting part ("Expected … to equal …") after
		// the custom message; keep a little of it.
		if len(rest) > 0 && len(s) < 60 {
			s += " " + strings.Join(strings.Fields(rest), " ")
		}
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
