package foreignissuer

import (
	"os/exec"
	"strings"
	"testing"
)

// TestIndependentOfThisModule: the fixture proves the harness on an issuer
// written without this project's code, so it imports nothing of the
// module (no issuer/, harness/, specs/, adminapi, internal/...) and not the
// reference issuer's JWT library; only the standard library and go-jose.
func TestIndependentOfThisModule(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const self = "github.com/codexauth/codexauth/internal/foreignissuer"
	for _, p := range strings.Fields(string(out)) {
		first := strings.SplitN(p, "/", 2)[0]
		switch {
		case p == self, !strings.Contains(first, "."), strings.HasPrefix(p, "vendor/"):
			// this package, the standard library and its vendored packages
		case strings.HasPrefix(p, "github.com/go-jose/go-jose/v4"):
		default:
			t.Errorf("the foreign issuer depends on %s", p)
		}
	}
}
