package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/internal/testutil"
	"github.com/codexauth/codexauth/issuer/issuertest"
)

// TestConformTrustsAPrivateCA: a deployment behind HTTPS whose certificate
// chains to a private CA. Without --ca-cert the suite cannot reach it and
// says why (exit 3); with it, the wire specs and the real codex (through
// CODEX_CA_CERTIFICATE) both trust the CA and the run is conformant.
func TestConformTrustsAPrivateCA(t *testing.T) {
	codex := testutil.CodexBin(t)
	iss := issuertest.New(t, issuertest.WithTLS(), issuertest.WithAutoApprove("alice"))
	if !strings.HasPrefix(iss.URL, "https://") {
		t.Fatalf("issuer at %s, want https", iss.URL)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, iss.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	code, out := runCLI(t, "conform", "--issuer", iss.URL, "--approver", "auto", "--no-codex", "--profile", "core", "--quiet", "--out", t.TempDir())
	if code != 3 || !strings.Contains(out, "certificate") || !strings.Contains(out, "--ca-cert") {
		t.Fatalf("without --ca-cert: exit %d, want 3 naming the certificate and --ca-cert:\n%s", code, out)
	}

	// Every profile, core required: what an operator runs against a deployment.
	code, out = runCLI(t, "conform", "--issuer", iss.URL, "--ca-cert", ca, "--approver", "auto", "--codex-bin", codex,
		"--quiet", "--out", t.TempDir())
	if code != 0 || !strings.Contains(out, "Verdict: CONFORMANT") {
		t.Fatalf("with --ca-cert: exit %d\n%s", code, out)
	}
	// codex itself signed in over TLS, by the device flow straight to the
	// deployment and by the browser flow through the guard's interception
	// of auth.openai.com, which forwards to the deployment.
	if !regexp.MustCompile(`codex-cli\s+no\s+([1-9]\d*)\s+0\s+0`).MatchString(out) ||
		regexp.MustCompile(`CDX-CLI-00[12]\s`).MatchString(out) {
		t.Fatalf("the real codex did not pass its specs over TLS:\n%s", out)
	}
}
