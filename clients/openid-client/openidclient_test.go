// Package openidclient_test runs openid-client from npm (the version pinned
// in package-lock.json, installed by scripts/install-openid-client.sh)
// against the reference issuer with the library's default settings:
// discovery, authorization code + PKCE + nonce, userinfo, refresh and
// revocation (test.mjs). The issuer serves HTTPS with a throwaway
// certificate, since openid-client refuses plain HTTP by default.
package openidclient_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/internal/testutil"
	"github.com/codexauth/codexauth/issuer/issuertest"
)

// DirEnv names the folder holding the installed node_modules (what
// scripts/install-openid-client.sh prints); unset, the test runs the script.
const DirEnv = "CODEXAUTH_OPENID_CLIENT_DIR"

// installed returns the folder whose node_modules holds the pinned
// openid-client. A missing npm or node is a failure, not a skip: the
// third-party clients are part of the test command.
func installed(t *testing.T) string {
	t.Helper()
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(testutil.RepoRoot(), "scripts", "install-openid-client.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/install-openid-client.sh: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func TestOpenIDClientWithDefaultSettings(t *testing.T) {
	modules := filepath.Join(installed(t), "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "openid-client", "package.json")); err != nil {
		t.Fatalf("openid-client is not installed under %s: %v", modules, err)
	}
	const clientID, redirect = "my-node-app", "http://127.0.0.1:5557/callback"
	iss := issuertest.New(t, issuertest.WithClient(clientID, redirect), issuertest.WithTLS())

	// test.mjs resolves openid-client from its own folder: run a copy next to
	// a link to the installed node_modules.
	dir := t.TempDir()
	src, err := os.ReadFile("test.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.mjs"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "issuer.pem")
	if err := os.WriteFile(ca, iss.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "test.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+ca, "ISSUER="+iss.URL, "ADMIN_TOKEN="+iss.AdminToken,
		"CLIENT_ID="+clientID, "REDIRECT_URI="+redirect, "USER_ID=alice")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node: %v (install Node.js 20+)", err)
	}
	flows := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		t.Log(sc.Text())
		if strings.Contains(sc.Text(), "flow: ") {
			flows++
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("openid-client test failed: %v\n%s", err, stderr.String())
	}
	if flows < 6 {
		t.Fatalf("openid-client ran %d flows, want 6 (version, discovery, code+PKCE+nonce, userinfo, refresh, revoke)", flows)
	}
}
