package main_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/harness/codexcli"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "codexauth-cli-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "codexauth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// serve starts `codexauth serve` on a free port with a memory store and
// returns its URL.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	return startServe(t, "127.0.0.1:0", append([]string{"--store", "memory"}, args...)...).URL
}

const admin = "cli-test-admin-token-0123"

// TestConformFailsBrokenIssuers: against separately started issuers that
// break the contract, conform exits 1 and names the failing ids.
func TestConformFailsBrokenIssuers(t *testing.T) {
	for _, tc := range []struct {
		fault, id string
	}{
		{"interval-number", "CDX-DEVICE-002"},
		{"reuse-accepted", "CDX-REUSE-003"},
		{"refresh-form-only", "CDX-REFRESH-001"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			url := serve(t, "--fault", tc.fault, "--admin-token", admin)
			code, out := runCLI(t, "conform", "--issuer", url, "--admin-token", admin, "--no-codex", "--quiet", "--out", t.TempDir())
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, out)
			}
			if !strings.Contains(out, "Failed requirements, root causes first:") || !strings.Contains(out, tc.id) || !strings.Contains(out, "NON-CONFORMANT") {
				t.Fatalf("output does not name %s:\n%s", tc.id, out)
			}
		})
	}
}

func TestConformAutoApproverListsNotRun(t *testing.T) {
	url := serve(t, "--auto-approve", "alice")
	code, out := runCLI(t, "conform", "--issuer", url, "--approver", "auto", "--no-codex", "--quiet", "--out", t.TempDir())
	if code != 4 {
		t.Fatalf("exit %d, want 4 (incomplete)\n%s", code, out)
	}
	for _, want := range []string{"Not run:", "CDX-ERR-003", "needs outage-simulation", "INCOMPLETE"} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "Failed requirements:") {
		t.Fatalf("a conformant issuer failed specs:\n%s", out)
	}
}

func TestConformBuiltinPassesAndWritesReports(t *testing.T) {
	dir := t.TempDir()
	code, out := runCLI(t, "conform", "--no-codex", "--quiet", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, f := range []string{"conformance.yaml", "junit.xml", "ginkgo.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("report %s missing: %v", f, err)
		}
	}
	y, _ := os.ReadFile(filepath.Join(dir, "conformance.yaml"))
	for _, want := range []string{"verdict: conformant", "CDX-DEVICE-002", "implementation:"} {
		if !strings.Contains(string(y), want) {
			t.Fatalf("conformance.yaml lacks %q", want)
		}
	}
}

func TestConformWaivers(t *testing.T) {
	url := serve(t, "--fault", "interval-number", "--admin-token", admin)
	w := filepath.Join(t.TempDir(), "waivers.yaml")
	os.WriteFile(w, []byte("waivers:\n  - id: CDX-DEVICE-002\n    reason: tracked in ISSUE-1\n"), 0o644)
	code, out := runCLI(t, "conform", "--issuer", url, "--admin-token", admin, "--no-codex", "--quiet", "--waivers", w, "--profile", "core", "--out", t.TempDir())
	if code != 0 {
		t.Fatalf("waived failure: exit %d\n%s", code, out)
	}
	stale := filepath.Join(t.TempDir(), "stale.yaml")
	os.WriteFile(stale, []byte("waivers:\n  - id: CDX-DEVICE-003\n    reason: no longer needed\n"), 0o644)
	code, out = runCLI(t, "conform", "--no-codex", "--quiet", "--waivers", stale, "--profile", "core", "--out", t.TempDir())
	if code != 5 || !strings.Contains(out, "Stale waiver") {
		t.Fatalf("stale waiver: exit %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("waivers:\n  - id: CDX-DEVICE-002\n"), 0o644)
	if code, out = runCLI(t, "conform", "--no-codex", "--waivers", bad); code != 2 || !strings.Contains(out, "no reason") {
		t.Fatalf("waiver without reason: exit %d\n%s", code, out)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"conform", "--profile", "nope"}, 2, "unknown --profile"},
		{[]string{"conform", "--issuer", "ftp://x"}, 2, "absolute http(s) URL"},
		{[]string{"conform", "--issuer", "http://127.0.0.1:9", "--no-codex"}, 3, "unreachable"},
		{[]string{"conform", "--approver", "psychic"}, 2, "--approver"},
		{[]string{"serve", "--access-ttl", "200s", "--store", "memory", "--addr", "127.0.0.1:0"}, 2, "proactive-refresh window"},
		{[]string{"serve", "--fault", "nope", "--store", "memory"}, 2, "unknown fault"},
		{[]string{"serve", "--store", "mysql://x", "--addr", "127.0.0.1:0"}, 3, "--store"},
		{[]string{"serve", "--auto-approve", "mallory", "--store", "memory", "--addr", "127.0.0.1:0"}, 2, "no such user"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"approve", "--admin-token", "x"}, 2, "not a JSON object"},
	}
	for _, tc := range cases {
		code, out := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, output:\n%s\nwant exit %d containing %q", tc.args, code, out, tc.code, tc.want)
		}
	}
}

func TestHelpExplainsFlags(t *testing.T) {
	for _, cmd := range []string{"serve", "conform", "selftest"} {
		code, out := runCLI(t, cmd, "--help")
		if code != 0 || !strings.Contains(out, "CODEXAUTH_") || !strings.Contains(out, "Usage: codexauth "+cmd) {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, out)
		}
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	cmd := exec.Command(bin, "serve", "--store", "memory", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "CODEXAUTH_ACCESS_TTL=100s")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "proactive-refresh window") {
		t.Fatalf("CODEXAUTH_ACCESS_TTL was not applied:\n%s", out)
	}
}

// TestConformWithFormAndExecApprovers: the same issuer, without
// auto-approval, passes core and browser with an approver that clicks
// through its pages and with an exec command.
func TestConformWithFormAndExecApprovers(t *testing.T) {
	url := serve(t, "--admin-token", admin)
	for name, args := range map[string][]string{
		"form": {"--approver", "form", "--user", "bob"},
		"exec": {"--approver", "exec", "--approver-command", bin + " approve --issuer " + url + " --admin-token " + admin},
	} {
		t.Run(name, func(t *testing.T) {
			all := append([]string{"conform", "--issuer", url, "--no-codex", "--quiet", "--profile", "core", "--profile", "browser", "--out", t.TempDir()}, args...)
			code, out := runCLI(t, all...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			if !strings.Contains(out, "CONFORMANT") {
				t.Fatal(out)
			}
		})
	}
}

// TestConformCodexCLIByURL: the real-codex specs run against a separately
// started issuer reached by URL, as an operator would run them.
func TestConformCodexCLIByURL(t *testing.T) {
	codex, err := codexcli.Find("")
	if err != nil {
		t.Fatalf("the codex-cli profile needs the real codex: %v", err)
	}
	url := serve(t, "--admin-token", admin)
	code, out := runCLI(t, "conform", "--issuer", url, "--admin-token", admin, "--codex-bin", codex, "--profile", "codex-cli", "--quiet", "--out", t.TempDir())
	if code != 0 || !regexp.MustCompile(`codex-cli\s+yes\s+\d+\s+0\s+0\s+0`).MatchString(out) {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
