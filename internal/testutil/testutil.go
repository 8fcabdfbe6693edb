// Package testutil holds what several test packages need to run the real
// codexauth binary: the repository root, a build of cmd/codexauth, and a
// `codexauth serve` process that reports its URL.
package testutil

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codexauth/codexauth/harness/codexcli"
)

// RepoRoot is the module root.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// Build compiles cmd/codexauth once per test binary and returns its path.
func Build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "codexauth-bin-")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "codexauth")
		cmd := exec.Command("go", "build", "-o", built, "./cmd/codexauth")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			built = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/codexauth: %v\n%s", buildErr, built)
	}
	return built
}

// Serve is a running `codexauth serve`.
type Serve struct {
	Cmd *exec.Cmd
	URL string
}

// StartServe runs `bin serve --addr addr args…` (stopped when the test
// ends) and waits for the URL it prints.
func StartServe(t testing.TB, bin, addr string, args ...string) *Serve {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr, "--log-level", "error"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "issuer listening on "); ok {
				found <- strings.Fields(rest)[0]
			}
		}
	}()
	select {
	case u := <-found:
		return &Serve{Cmd: cmd, URL: u}
	case <-time.After(30 * time.Second):
		t.Fatal("codexauth serve did not start")
	}
	return nil
}

// CodexBin is the pinned real codex binary: found (CODEXAUTH_CODEX_BIN or
// the install cache) or installed through scripts/install-codex.sh. A
// missing codex fails the test: real-codex tests are part of the test
// command.
func CodexBin(t testing.TB) string {
	t.Helper()
	if bin, err := codexcli.Find(""); err == nil {
		return bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := codexcli.Install(ctx, RepoRoot())
	if err != nil {
		t.Fatalf("installing codex %s: %v", codexcli.Version, err)
	}
	return bin
}
