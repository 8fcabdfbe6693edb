// Package archtest enforces the project's dependency rule (docs/design-notes.md,
// "Architecture"): the checker never shares code with what it checks.
package archtest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/internal/testutil"
)

const module = "github.com/codexauth/codexauth"

// deps lists the packages (non-test) that patterns depend on.
func deps(t *testing.T, patterns ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps"}, patterns...)...)
	cmd.Dir = testutil.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %v: %v", patterns, err)
	}
	return strings.Fields(string(out))
}

// TestHarnessDoesNotImportTheIssuer: harness/ and specs/ reach nothing
// under issuer/, and not the issuer's JWT library either (the harness
// verifies with a JOSE implementation of its own). The one package both
// sides share is adminapi, the admin API's wire types.
func TestHarnessDoesNotImportTheIssuer(t *testing.T) {
	for _, p := range deps(t, module+"/harness/...", module+"/specs/...") {
		switch {
		case strings.HasPrefix(p, module+"/issuer"), strings.HasPrefix(p, module+"/cmd"), strings.HasPrefix(p, module+"/internal"):
			t.Errorf("the harness depends on %s: the checker must not share code with what it checks", p)
		case strings.HasPrefix(p, "github.com/golang-jwt/"):
			t.Errorf("the harness depends on %s, the issuer's JWT library: verify with the harness's own (go-jose)", p)
		}
	}
}

// TestAdminAPIIsDependencyFree: the shared wire package holds types only
// and imports nothing beyond the standard library.
func TestAdminAPIIsDependencyFree(t *testing.T) {
	for _, p := range deps(t, module+"/adminapi") {
		if p != module+"/adminapi" && strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
			t.Errorf("adminapi depends on %s; it may use the standard library only", p)
		}
	}
}

// TestInterceptIsDependencyFree: the TLS-interception core that the
// harness's guard and `codexauth proxy` share imports only the standard
// library, so sharing it links the harness to nothing of the issuer.
func TestInterceptIsDependencyFree(t *testing.T) {
	for _, p := range deps(t, module+"/intercept") {
		if p != module+"/intercept" && strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
			t.Errorf("intercept depends on %s; it may use the standard library only", p)
		}
	}
}

// TestIssuerDoesNotImportTheHarness: the issuer is usable as a library
// without the conformance suite (its tests may use the harness's client).
func TestIssuerDoesNotImportTheHarness(t *testing.T) {
	for _, p := range deps(t, module+"/issuer/...") {
		if strings.HasPrefix(p, module+"/harness") || strings.HasPrefix(p, module+"/specs") {
			t.Errorf("the issuer depends on %s", p)
		}
	}
}
