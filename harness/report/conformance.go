package report

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/harness/registry"
)

// Waiver excuses one requirement, with a reviewed reason.
type Waiver struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

type waiverFile struct {
	Waivers []Waiver `json:"waivers"`
}

// LoadWaivers reads a waivers file (YAML: waivers: [{id, reason}]). Every
// waiver must name a known requirement and give a reason.
func LoadWaivers(path string) ([]Waiver, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("waivers: %w", err)
	}
	var f waiverFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("waivers %s: %w", path, err)
	}
	seen := map[string]bool{}
	for i, w := range f.Waivers {
		if _, ok := registry.Lookup(w.ID); !ok {
			return nil, fmt.Errorf("waivers %s: entry %d names unknown requirement %q", path, i+1, w.ID)
		}
		if strings.TrimSpace(w.Reason) == "" {
			return nil, fmt.Errorf("waivers %s: %s has no reason; every waiver must say why", path, w.ID)
		}
		if seen[w.ID] {
			return nil, fmt.Errorf("waivers %s: %s is waived twice", path, w.ID)
		}
		seen[w.ID] = true
	}
	return f.Waivers, nil
}

// ProfileSummary counts one profile's outcomes.
type ProfileSummary struct {
	Required bool `json:"required"`
	Passed   int  `json:"passed"`
	Failed   int  `json:"failed"`
	NotRun   int  `json:"not_run"`
	Waived   int  `json:"waived"`
}

// RequirementResult is one line of the report.
type RequirementResult struct {
	ID       string           `json:"id"`
	Level    registry.Level   `json:"level"`
	Profile  registry.Profile `json:"profile"`
	Section  string           `json:"section"`
	Title    string           `json:"title"`
	Impact   string           `json:"impact,omitempty"`
	State    State            `json:"state"`
	Reason   string           `json:"reason,omitempty"`
	Waiver   string           `json:"waiver,omitempty"`
	Location string           `json:"location,omitempty"`
}

// Implementation identifies what was tested.
type Implementation struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	URL     string `json:"url"`
}

// Report is the conformance report (written as YAML).
type Report struct {
	Suite          string                              `json:"suite"`
	SuiteVersion   string                              `json:"suite_version"`
	Contract       string                              `json:"contract"`
	Implementation Implementation                      `json:"implementation"`
	Date           time.Time                           `json:"date"`
	DurationSecs   float64                             `json:"duration_seconds"`
	Approver       string                              `json:"approver"`
	Strict         bool                                `json:"strict"`
	Capabilities   map[string]string                   `json:"capabilities"`
	Profiles       map[registry.Profile]ProfileSummary `json:"profiles"`
	Verdict        string                              `json:"verdict"`
	ExitCode       int                                 `json:"exit_code"`
	Failures       []string                            `json:"failures,omitempty"`
	Incomplete     []string                            `json:"incomplete,omitempty"`
	StaleWaivers   []Waiver                            `json:"stale_waivers,omitempty"`
	Requirements   []RequirementResult                 `json:"requirements"`
}

// Evaluate turns outcomes into a verdict. A failed MUST (or, when strict,
// any failed requirement) makes the run non-conformant wherever it is; a
// MUST that could not run makes it incomplete when its profile is
// required; a waiver that matches no failed or not-run requirement is stale.
func Evaluate(outcomes []Outcome, required []registry.Profile, waivers []Waiver, strict bool) Report {
	r := Report{Suite: "codexauth conformance", Contract: "codex-cli 0.169.0 (docs/codex-issuer-contract.md)",
		Profiles: map[registry.Profile]ProfileSummary{}, Strict: strict}
	waived := map[string]string{}
	for _, w := range waivers {
		waived[w.ID] = w.Reason
	}
	used := map[string]bool{}
	sort.SliceStable(outcomes, func(i, j int) bool { return outcomes[i].ID < outcomes[j].ID })
	for _, o := range outcomes {
		rr := RequirementResult{ID: o.ID, Level: o.Level, Profile: o.Profile, Section: o.Section, Title: o.Title,
			State: o.State, Reason: strings.TrimSpace(o.Reason), Location: o.Location}
		if o.State == Failed {
			if req, ok := registry.Lookup(o.ID); ok {
				rr.Impact = req.Impact
			}
		}
		if reason, ok := waived[o.ID]; ok && (o.State == Failed || o.State == NotRun) {
			rr.Waiver, rr.State = reason, Waived
			used[o.ID] = true
		}
		ps := r.Profiles[o.Profile]
		ps.Required = slices.Contains(required, o.Profile)
		switch rr.State {
		case Passed:
			ps.Passed++
		case Failed:
			ps.Failed++
			if o.Level == registry.MUST || strict {
				r.Failures = append(r.Failures, o.ID)
			}
		case NotRun:
			ps.NotRun++
			if o.Level == registry.MUST && ps.Required {
				r.Incomplete = append(r.Incomplete, o.ID)
			}
		case Waived:
			ps.Waived++
		}
		r.Profiles[o.Profile] = ps
		r.Requirements = append(r.Requirements, rr)
	}
	for _, p := range required {
		if ps, ok := r.Profiles[p]; ok {
			ps.Required = true
			r.Profiles[p] = ps
		}
	}
	for _, w := range waivers {
		if !used[w.ID] {
			r.StaleWaivers = append(r.StaleWaivers, w)
		}
	}
	switch {
	case len(r.Failures) > 0:
		r.Verdict, r.ExitCode = "non-conformant", ExitFailed
	case len(r.StaleWaivers) > 0:
		r.Verdict, r.ExitCode = "stale-waivers", ExitStaleWaiver
	case len(r.Incomplete) > 0:
		r.Verdict, r.ExitCode = "incomplete", ExitIncomplete
	default:
		r.Verdict, r.ExitCode = "conformant", ExitOK
	}
	return r
}

// WriteYAML writes the report.
func (r Report) WriteYAML(path string) error {
	b, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// PrintSummary writes the end-of-run table and the failures.
func (r Report) PrintSummary(w io.Writer) {
	fmt.Fprintf(w, "\n%-16s %-9s %7s %7s %8s %7s\n", "profile", "required", "passed", "failed", "not-run", "waived")
	for _, p := range registry.Profiles {
		ps, ok := r.Profiles[p]
		if !ok {
			continue
		}
		req := "no"
		if ps.Required {
			req = "yes"
		}
		fmt.Fprintf(w, "%-16s %-9s %7d %7d %8d %7d\n", p, req, ps.Passed, ps.Failed, ps.NotRun, ps.Waived)
	}
	var failed, notRun []RequirementResult
	for _, rr := range r.Requirements {
		switch rr.State {
		case Failed:
			failed = append(failed, rr)
		case NotRun:
			notRun = append(notRun, rr)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nFailed requirements:\n")
		for _, rr := range failed {
			fmt.Fprintf(w, "  %-16s %-6s %s\n  %16s        → %s\n", rr.ID, rr.Level, rr.Title, "", oneLine(rr.Reason))
			if rr.Impact != "" {
				fmt.Fprintf(w, "  %16s        impact: %s\n", "", rr.Impact)
			}
		}
	}
	if len(notRun) > 0 {
		fmt.Fprintf(w, "\nNot run:\n")
		for _, rr := range notRun {
			fmt.Fprintf(w, "  %-16s %-6s %s\n", rr.ID, rr.Level, oneLine(rr.Reason))
		}
	}
	for _, sw := range r.StaleWaivers {
		fmt.Fprintf(w, "\nStale waiver: %s (%s) matches no failed or not-run requirement: remove it\n", sw.ID, sw.Reason)
	}
	fmt.Fprintf(w, "\nVerdict: %s", strings.ToUpper(r.Verdict))
	switch r.Verdict {
	case "non-conformant":
		fmt.Fprintf(w, " — failed: %s", strings.Join(r.Failures, ", "))
	case "incomplete":
		fmt.Fprintf(w, " — required MUST requirements not run: %s", strings.Join(r.Incomplete, ", "))
	}
	fmt.Fprintln(w)
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
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
