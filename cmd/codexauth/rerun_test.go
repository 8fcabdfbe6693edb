package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/internal/builtin"
)

// TestRerunTargetsWhatTheReportTested: --rerun takes the failed and blocked
// ids of a report and the target it tested — a URL, a docker image, or
// the built-in issuer — never silently another one.
func TestRerunTargetsWhatTheReportTested(t *testing.T) {
	for _, c := range []struct {
		name, url          string
		wantURL, wantImage string
	}{
		{harness.DockerImagePrefix + "codexauth:test", "http://127.0.0.1:40000", "", "codexauth:test"},
		{"my deployment", "https://auth.example.test", "https://auth.example.test", ""},
		{builtin.Name, "http://127.0.0.1:40001", "", ""},
	} {
		rep := report.Report{Implementation: report.Implementation{Name: c.name, URL: c.url}, Requirements: []report.RequirementResult{
			{ID: "CDX-DEVICE-002", State: report.Failed}, {ID: "CDX-DEVICE-003", State: report.Passed},
			{ID: "CDX-REFRESH-002", State: report.Blocked}}}
		b, err := yaml.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "conformance.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ids, url, image, err := rerunSelection(path)
		if err != nil || !slices.Equal(ids, []string{"CDX-DEVICE-002", "CDX-REFRESH-002"}) || url != c.wantURL || image != c.wantImage {
			t.Errorf("%s: ids %v url %q image %q err %v; want url %q image %q", c.name, ids, url, image, err, c.wantURL, c.wantImage)
		}
	}
}
