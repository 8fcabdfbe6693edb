// Package browsertest starts headless Chromium for page tests (chromedp),
// the way issuer/pages_browser_test.go does, for the tests of other
// packages: the console's and the proxy's.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Start runs headless Chromium (Debian's package; scripts/test.sh installs
// it) with extra flags and returns a browser context that ends with the
// test, bounded by timeout. A missing browser fails the test: page tests
// are part of the test command.
func Start(t *testing.T, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
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
			chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
		opts = append(opts, extra...)
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		t.Cleanup(cancel)
		c, cancel2 := chromedp.NewContext(actx)
		t.Cleanup(cancel2)
		// The first Run starts the browser and must not carry a timeout.
		if err = chromedp.Do(c, chromedp.Navigate("about:blank")); err == nil {
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
	ctx, cancel3 := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel3)
	return ctx
}

// Steps runs browser actions in order, stopping at the first error.
func Steps(ctx context.Context, actions ...chromedp.Action[chromedp.Void]) error {
	for i, a := range actions {
		if err := chromedp.Do(ctx, a); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	return nil
}

// Screenshot saves a PNG of the page (or of the element sel, when given)
// into the folder CODEXAUTH_SCREENSHOTS names; without it, nothing. The
// README's screenshots in docs/ are made this way.
func Screenshot(t *testing.T, ctx context.Context, name, sel string) {
	t.Helper()
	dir := os.Getenv("CODEXAUTH_SCREENSHOTS")
	if dir == "" {
		return
	}
	var buf []byte
	var err error
	if sel == "" {
		buf, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	} else {
		buf, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	}
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
}
