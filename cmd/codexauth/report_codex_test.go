package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/harness/codexcli"
)

// TestFailedCodexSpecsSayWhatCodexSaid: when the real codex fails, the
// console line under the failed spec is codex's own error (not the PATH
// warnings it prints first), the specs that needed that login are blocked
// by it rather than failed again, and the HTML report carries codex's
// command, exit status and whole output.
func TestFailedCodexSpecsSayWhatCodexSaid(t *testing.T) {
	if _, err := codexcli.Find(""); err != nil {
		t.Fatalf("this test needs the real codex: %v", err)
	}
	out := t.TempDir()
	code, log := runCLI(t, "conform", "--profile", "codex-cli", "--fault", "interval-number", "--out", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, log)
	}
	said := regexp.MustCompile("(?m)^\\[ *\\d+/\\d+\\] FAIL CDX-CLI-001 .*\n +(.*)$").FindStringSubmatch(log)
	if said == nil || !strings.Contains(said[1], "Error logging in: invalid type: integer `1`, expected a string") ||
		strings.Contains(said[1], "WARNING") {
		t.Fatalf("the line under CDX-CLI-001 is not codex's error:\n%s", log)
	}
	if !regexp.MustCompile(`blocked 4: CDX-CLI-004, CDX-CLI-005, CDX-CLI-006, CDX-CLI-007`).MatchString(log) {
		t.Fatalf("the specs that log in first are not blocked by CDX-CLI-001:\n%s", log)
	}
	html, err := os.ReadFile(filepath.Join(out, "conformance.html"))
	if err != nil {
		t.Fatal(err)
	}
	// The command's summary line, then codex's whole output in a <pre>.
	run := regexp.MustCompile(`<summary>\$ codex login --device-auth --experimental_issuer \S+ → <span class="st-bad">exit 1</span>.*— Error logging in: invalid type.*</summary>\s*<pre>[^<]*Error logging in: invalid type`)
	if !run.Match(html) {
		t.Fatalf("the HTML report does not show codex's command, exit status and output:\n%.3000s", html)
	}
}
