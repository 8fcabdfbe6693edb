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

	"github.com/chromedp/chromedp"

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

// Browser starts headless Chromium (Debian's package; scripts/test.sh
// installs it). A missing browser fails the test: page tests are part of
// the test command.
func Browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CODEXAUTH_CHROMIUM")
	if path == "" {
		for _, c := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(c); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Fatal("page tests need Chromium: apt-get install chromium (scripts/test.sh does), or set CODEXAUTH_CHROMIUM")
	}
	// Starting a browser on a busy 2-core machine occasionally crashes it
	// before the first page; that is no verdict on our pages, so the start
	// (and only the start) is tried up to three times.
	var ctx context.Context
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		t.Cleanup(cancel)
		c, cancel2 := chromedp.NewContext(actx)
		t.Cleanup(cancel2)
		// The first Run starts the browser and must not carry a timeout.
		if _, err = chromedp.Run(c, chromedp.Navigate("about:blank")); err == nil {
			ctx = c
			break
		}
		t.Logf("Chromium start %d failed: %.300v", attempt, err)
		cancel2()
		cancel()
	}
	if ctx == nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel3)
	return ctx
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
