package report

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/harness/evidence"
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
	Blocked  int  `json:"blocked"`
	NotRun   int  `json:"not_run"`
	Waived   int  `json:"waived"`
}

// RequirementResult is one line of the report.
type RequirementResult struct {
	ID      string           `json:"id"`
	Level   registry.Level   `json:"level"`
	Profile registry.Profile `json:"profile"`
	Section string           `json:"section"`
	Title   string           `json:"title"`
	Impact  string           `json:"impact,omitempty"`
	// Attack says what an attacker gains from the failure.
	Attack string `json:"attack,omitempty"`
	State  State  `json:"state"`
	Reason string `json:"reason,omitempty"`
	// BlockedBy is the requirement whose failed step kept this one from
	// running (State blocked).
	BlockedBy string `json:"blocked_by,omitempty"`
	// Blocks lists the requirements this one's failure kept from running.
	Blocks   []string `json:"blocks,omitempty"`
	Waiver   string   `json:"waiver,omitempty"`
	Location string   `json:"location,omitempty"`
	// Waited is how long the spec really waited for expiry.
	Waited string `json:"waited,omitempty"`
	// Evidence is what the spec did: its exchanges with the target and the
	// real codex's runs, secrets masked.
	Evidence *evidence.Record `json:"evidence,omitempty"`
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
	CodexVersion   string                              `json:"codex_version,omitempty"` // the real codex run (`codex --version`), empty when none ran
	Implementation Implementation                      `json:"implementation"`
	Date           time.Time                           `json:"date"`
	DurationSecs   float64                             `json:"duration_seconds"`
	Approver       string                              `json:"approver"`
	Strict         bool                                `json:"strict"`
	Capabilities   map[string]string                   `json:"capabilities"`
	Profiles       map[registry.Profile]ProfileSummary `json:"profiles"`
	Verdict        string                              `json:"verdict"`
	ExitCode       int                                 `json:"exit_code"`
	// Failures are the failed requirements that make the run fail (MUST,
	// or any with --strict), root causes first.
	Failures []string `json:"failures,omitempty"`
	// RootCauses are the failed requirements in the order to fix them:
	// MUST before SHOULD, then those that blocked most others.
	RootCauses   []string            `json:"root_causes,omitempty"`
	Incomplete   []string            `json:"incomplete,omitempty"`
	StaleWaivers []Waiver            `json:"stale_waivers,omitempty"`
	Requirements []RequirementResult `json:"requirements"`
}

// Evaluate turns outcomes into a verdict. A failed MUST (or, when strict,
// any failed requirement) makes the run non-conformant wherever it is; a
// MUST that could not run — not run, or blocked by a step that did not fail
// for good — makes it incomplete when its profile is required; a waiver
// that matches no failed, blocked or not-run requirement is stale.
func Evaluate(outcomes []Outcome, required []registry.Profile, waivers []Waiver, strict bool) Report {
	r := Report{Suite: "codexauth conformance", Contract: "codex-cli 0.169.0 (docs/codex-issuer-contract.md)",
		Profiles: map[registry.Profile]ProfileSummary{}, Strict: strict}
	waived := map[string]string{}
	for _, w := range waivers {
		waived[w.ID] = w.Reason
	}
	used := map[string]bool{}
	sort.SliceStable(outcomes, func(i, j int) bool { return outcomes[i].ID < outcomes[j].ID })
	blocks := map[string][]string{}
	for _, o := range outcomes {
		if o.State == Blocked && o.BlockedBy != "" {
			blocks[o.BlockedBy] = append(blocks[o.BlockedBy], o.ID)
		}
	}
	for _, o := range outcomes {
		rr := RequirementResult{ID: o.ID, Level: o.Level, Profile: o.Profile, Section: o.Section, Title: o.Title,
			State: o.State, Reason: strings.TrimSpace(o.Reason), BlockedBy: o.BlockedBy, Blocks: blocks[o.ID],
			Location: o.Location}
		if o.Waited > 0 {
			rr.Waited = o.Waited.Round(time.Millisecond).String()
		}
		if o.State == Failed {
			if req, ok := registry.Lookup(o.ID); ok {
				rr.Impact, rr.Attack = req.Impact, req.Attack
			}
		}
		if reason, ok := waived[o.ID]; ok && (o.State == Failed || o.State == NotRun || o.State == Blocked) {
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
		case Blocked:
			ps.Blocked++
		case NotRun:
			ps.NotRun++
		case Waived:
			ps.Waived++
		}
		r.Profiles[o.Profile] = ps
		r.Requirements = append(r.Requirements, rr)
	}
	failed := map[string]bool{}
	for _, rr := range r.Requirements {
		failed[rr.ID] = rr.State == Failed
	}
	for _, rr := range r.Requirements {
		switch {
		case rr.State == Failed:
			r.RootCauses = append(r.RootCauses, rr.ID)
		case (rr.State == NotRun || rr.State == Blocked && !failed[rr.BlockedBy]) && rr.Level == registry.MUST && slices.Contains(required, rr.Profile):
			r.Incomplete = append(r.Incomplete, rr.ID)
		}
	}
	byID := map[string]RequirementResult{}
	for _, rr := range r.Requirements {
		byID[rr.ID] = rr
	}
	sort.SliceStable(r.RootCauses, func(i, j int) bool {
		a, b := byID[r.RootCauses[i]], byID[r.RootCauses[j]]
		if (a.Level == registry.MUST) != (b.Level == registry.MUST) {
			return a.Level == registry.MUST
		}
		return len(a.Blocks) > len(b.Blocks)
	})
	for _, id := range r.RootCauses {
		if byID[id].Level == registry.MUST || strict {
			r.Failures = append(r.Failures, id)
		}
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

// AttachEvidence adds each requirement's evidence to the report.
func (r *Report) AttachEvidence(byID map[string]*evidence.Record) {
	for i := range r.Requirements {
		if rec := byID[r.Requirements[i].ID]; !rec.Empty() {
			r.Requirements[i].Evidence = rec
		}
	}
}

// Result returns the line of requirement id.
func (r Report) Result(id string) (RequirementResult, bool) {
	for _, rr := range r.Requirements {
		if rr.ID == id {
			return rr, true
		}
	}
	return RequirementResult{}, false
}

// WriteYAML writes the report.
func (r Report) WriteYAML(path string) error {
	b, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
