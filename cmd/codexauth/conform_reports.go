package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/evidence"
	"github.com/codexauth/codexauth/harness/registry"
	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/internal/builtin"
)

// withEvidence puts each spec's evidence into the JUnit system-out of its
// test case (Ginkgo writes a spec's captured output there), so CI systems
// show what was exchanged.
func withEvidence(rep types.Report, result report.Report) types.Report {
	specs := make(types.SpecReports, len(rep.SpecReports))
	copy(specs, rep.SpecReports)
	for i, s := range specs {
		for _, l := range s.Labels() {
			if id, ok := strings.CutPrefix(l, "req:"); ok {
				if rr, ok := result.Result(id); ok && rr.Evidence != nil {
					specs[i].CapturedStdOutErr = rr.Evidence.Text()
				}
			}
		}
	}
	rep.SpecReports = specs
	return rep
}

// rerunSelection reads an earlier conformance.yaml: the ids it failed or
// blocked, and what it tested — a URL, a docker image, or (both empty) the
// built-in issuer.
func rerunSelection(path string) (ids []string, issuer, dockerImage string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", "", err
	}
	var prev report.Report
	if err := yaml.Unmarshal(b, &prev); err != nil {
		return nil, "", "", fmt.Errorf("%s is not a conformance report: %w", path, err)
	}
	for _, rr := range prev.Requirements {
		if rr.State == report.Failed || rr.State == report.Blocked {
			if _, ok := registry.Lookup(rr.ID); !ok {
				return nil, "", "", fmt.Errorf("%s names %s, which this suite does not know", path, rr.ID)
			}
			ids = append(ids, rr.ID)
		}
	}
	switch name := prev.Implementation.Name; {
	case name == builtin.Name:
	case strings.HasPrefix(name, harness.DockerImagePrefix):
		dockerImage = strings.TrimPrefix(name, harness.DockerImagePrefix)
	default:
		issuer = prev.Implementation.URL
	}
	return ids, issuer, dockerImage, nil
}

// leakCheck scans report files for any secret the run met, unmasked.
func leakCheck(t *harness.Target, paths ...string) []string {
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		for _, l := range t.Evidence.Masker.Leaks(string(b)) {
			out = append(out, p+": "+l)
		}
	}
	return out
}

// maskGinkgoReport masks what Ginkgo's own reports quote: failure messages
// (which show exchanges) and captured output.
func maskGinkgoReport(rep types.Report, m *evidence.Masker) types.Report {
	specs := make(types.SpecReports, len(rep.SpecReports))
	copy(specs, rep.SpecReports)
	for i := range specs {
		specs[i].Failure.Message = m.Text(specs[i].Failure.Message)
		specs[i].Failure.ForwardedPanic = m.Text(specs[i].Failure.ForwardedPanic)
		specs[i].CapturedGinkgoWriterOutput = m.Text(specs[i].CapturedGinkgoWriterOutput)
		specs[i].CapturedStdOutErr = m.Text(specs[i].CapturedStdOutErr)
		if specs[i].Failure.AdditionalFailure != nil {
			af := *specs[i].Failure.AdditionalFailure
			af.Failure.Message = m.Text(af.Failure.Message)
			specs[i].Failure.AdditionalFailure = &af
		}
	}
	rep.SpecReports = specs
	rep.SpecialSuiteFailureReasons = append([]string(nil), rep.SpecialSuiteFailureReasons...)
	for i, r := range rep.SpecialSuiteFailureReasons {
		rep.SpecialSuiteFailureReasons[i] = m.Text(r)
	}
	return rep
}

// writeConformReports masks the results and Ginkgo's report, prints the
// summary, writes the four report files and checks that none of them
// carries a secret the run met.
func writeConformReports(target *harness.Target, rep types.Report, result *report.Report, f conformFlags, stdout io.Writer) error {
	// Failure messages quote exchanges; they are shared too.
	masker := target.Evidence.Masker
	for i := range result.Requirements {
		result.Requirements[i].Reason = masker.Text(result.Requirements[i].Reason)
	}
	rep = maskGinkgoReport(rep, masker)
	result.PrintSummary(stdout)
	var werr []error
	werr = append(werr, reporters.GenerateJUnitReport(withEvidence(rep, *result), f.junit), reporters.GenerateJSONReport(rep, f.jsonOut),
		result.WriteYAML(f.report), result.WriteHTML(f.html))
	if err := errors.Join(werr...); err != nil {
		return fmt.Errorf("writing reports: %w", err)
	}
	// The reports are meant to be shared: none may carry a secret the run
	// met (tokens, codes, verifiers, the admin token, the internal secret).
	if leaks := leakCheck(target, f.html, f.report, f.junit, f.jsonOut); len(leaks) > 0 {
		return fmt.Errorf("the reports carry unmasked secrets (a harness bug; do not share them):\n  %s", strings.Join(leaks, "\n  "))
	} else if !f.quiet {
		fmt.Fprintf(stdout, "leak check: %d secrets met, 4 report files, none unmasked\n", len(target.Evidence.Masker.Secrets()))
	}
	return nil
}
