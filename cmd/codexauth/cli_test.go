package main_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/internal/testutil"
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

// TestConformAutoApprovedMockIsConformant: mock mode without an admin API,
// judged with --approver auto, is CONFORMANT — the pending first poll is
// observed, not assumed — and what needs the admin API is listed as not run
// with its reason.
func TestConformAutoApprovedMockIsConformant(t *testing.T) {
	url := serve(t, "--auto-approve", "alice")
	code, out := runCLI(t, "conform", "--issuer", url, "--approver", "auto", "--no-codex", "--quiet", "--out", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d, want 0 (conformant)\n%s", code, out)
	}
	for _, want := range []string{"Not run:", "CDX-ERR-003", "needs outage-simulation", "Verdict: CONFORMANT"} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "CDX-DEVICE-004  ") && strings.Contains(out, "approved the code at its very first poll") {
		t.Fatalf("the pending first poll was not observed:\n%s", out)
	}
}

func TestConformBuiltinPassesAndWritesReports(t *testing.T) {
	dir := t.TempDir()
	code, out := runCLI(t, "conform", "--no-codex", "--quiet", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, f := range []string{"conformance.yaml", "conformance.html", "junit.xml", "ginkgo.json"} {
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

// TestReportsOfAFullRunCarryNoSecret runs every profile with the real codex
// and scans every report format for secrets: conform's own leak check
// (every token, code, verifier and secret the run met) must pass, and no
// JWT may appear whole in any file.
func TestReportsOfAFullRunCarryNoSecret(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(bin, "conform", "--out", dir, "--codex-bin", testutil.CodexBin(t))
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("conform: %v\n%s", err, buf.String())
	}
	out := buf.String()
	if !strings.Contains(out, "none unmasked") || !strings.Contains(out, "Verdict: CONFORMANT") {
		t.Fatalf("no clean leak check:\n%s", out)
	}
	jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.`)
	// Independent of the masker (which can only flag what it learned): the
	// reference issuer's secrets have recognisable prefixes — refresh
	// tokens, codes, device ids, exchanged API keys, personal access tokens.
	issued := regexp.MustCompile(`\b(rt_|ac_|deviceauth_|sk-codexauth-|at-)[A-Za-z0-9_-]{16,}`)
	for _, f := range []string{"conformance.yaml", "conformance.html", "junit.xml", "ginkgo.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if m := jwt.Find(b); m != nil {
			t.Errorf("%s carries a JWT: %.40s…", f, m)
		}
		if m := issued.Find(b); m != nil {
			t.Errorf("%s carries a secret the issuer issued: %.14s…", f, m)
		}
		if f != "ginkgo.json" && !bytes.Contains(b, []byte("‹refresh_token·")) {
			t.Errorf("%s shows no masked refresh token: is the evidence missing?", f)
		}
	}
	if y, _ := os.ReadFile(filepath.Join(dir, "conformance.yaml")); !bytes.Contains(y, []byte("codex_runs:")) {
		t.Errorf("conformance.yaml has no codex runs: the codex-cli profile did not run")
	}
	// Failure messages quote whole exchanges, token answers included.
	code, out := runCLI(t, "conform", "--no-codex", "--fault", "refresh-bad-id-token", "--out", t.TempDir())
	if code != 1 || !strings.Contains(out, "none unmasked") {
		t.Fatalf("a failing run's reports: exit %d\n%s", code, out)
	}
}

// TestConformRerunsWhatFailed: --rerun runs only the failed and blocked
// requirements of an earlier report, against the target it names; once the
// defect is fixed the rerun passes.
func TestConformRerunsWhatFailed(t *testing.T) {
	url := serve(t, "--fault", "refresh-form-only", "--admin-token", admin)
	first := t.TempDir()
	if code, out := runCLI(t, "conform", "--issuer", url, "--admin-token", admin, "--no-codex", "--quiet", "--out", first); code != 1 {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	rerun := func() (int, string) {
		return runCLI(t, "conform", "--rerun", filepath.Join(first, "conformance.yaml"), "--admin-token", admin, "--no-codex", "--out", t.TempDir())
	}
	code, out := rerun()
	if code != 1 || !strings.Contains(out, "rerunning 2 failed or blocked requirements") || !strings.Contains(out, "Ran 2 requirements") {
		t.Fatalf("rerun with the defect: exit %d\n%s", code, out)
	}
	req, _ := http.NewRequest(http.MethodPut, url+"/__admin/faults", strings.NewReader(`{"enabled":[]}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("switching the fault off: %v %v", res, err)
	}
	if code, out = rerun(); code != 0 || !strings.Contains(out, "Verdict: CONFORMANT") {
		t.Fatalf("rerun after the fix: exit %d\n%s", code, out)
	}
}

// TestConformWaitsForTheTokensOwnExpiry: without an admin API, the spec
// about codex's 300 s window waits for the access token's own exp when the
// wait fits --max-wait, and the report says how long it waited.
func TestConformWaitsForTheTokensOwnExpiry(t *testing.T) {
	url := serve(t, "--auto-approve", "alice", "--access-ttl", "303s", "--allow-short-access-ttl")
	dir := t.TempDir()
	code, out := runCLI(t, "conform", "--issuer", url, "--approver", "auto", "--no-codex", "--max-wait", "20s",
		"--only", "CDX-REFRESH-006", "--out", dir)
	if code != 0 || !strings.Contains(out, "Waited for real expiry (no clock control): CDX-REFRESH-006") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	y, _ := os.ReadFile(filepath.Join(dir, "conformance.yaml"))
	if !regexp.MustCompile(`waited: [0-9.]+s`).Match(y) {
		t.Fatalf("conformance.yaml does not say how long it waited")
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
