package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"strings"

	"github.com/codexauth/codexauth/harness/registry"
)

//go:embed report.html
var htmlTemplate string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper":        strings.ToUpper,
	"join":         strings.Join,
	"inc":          func(i int) int { return i + 1 },
	"failedStatus": func(s int) bool { return s >= 400 || s == 0 },
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	},
}).Parse(htmlTemplate))

// profileRow is one line of the HTML report's profile table.
type profileRow struct {
	Name       registry.Profile
	Summary    ProfileSummary
	MustFailed int
}

// WriteHTML writes the report as one self-contained HTML page (no external
// assets: it can be attached to a ticket): the verdict, the profiles, the
// root causes first, then every requirement with its evidence, filterable.
func (r Report) WriteHTML(path string) error {
	byID := map[string]RequirementResult{}
	for _, rr := range r.Requirements {
		byID[rr.ID] = rr
	}
	var profiles []profileRow
	for _, p := range registry.Profiles {
		ps, ok := r.Profiles[p]
		if !ok {
			continue
		}
		row := profileRow{Name: p, Summary: ps}
		for _, rr := range r.Requirements {
			if rr.Profile == p && rr.State == Failed && rr.Level == registry.MUST {
				row.MustFailed++
			}
		}
		profiles = append(profiles, row)
	}
	// Root causes first (in fixing order), then the rest by state.
	var ordered, roots []RequirementResult
	seen := map[string]bool{}
	for _, id := range r.RootCauses {
		ordered = append(ordered, byID[id])
		roots = append(roots, byID[id])
		seen[id] = true
	}
	for _, st := range []State{Blocked, NotRun, Waived, Passed} {
		for _, rr := range r.Requirements {
			if rr.State == st && !seen[rr.ID] {
				ordered = append(ordered, rr)
				seen[rr.ID] = true
			}
		}
	}
	var b strings.Builder
	err := pageTemplate.Execute(&b, map[string]any{
		"R": r, "Profiles": profiles, "RootCauses": roots, "Ordered": ordered,
		"States": []State{Failed, Blocked, NotRun, Waived, Passed},
	})
	if err != nil {
		return fmt.Errorf("render the HTML report: %w", err)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
