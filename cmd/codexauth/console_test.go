package main_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/internal/browsertest"
)

// eventStream collects a console's server-sent events until the test ends.
type eventStream struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (s *eventStream) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.buf.String() }

func openEventStream(t *testing.T, url string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("event stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &eventStream{}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.buf.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	return s
}

// shot takes a screenshot for the README once the page's notice is gone.
func shot(t *testing.T, ctx context.Context, name, sel string) {
	t.Helper()
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`var t = document.getElementById("toast"); t.style.transition = "none"; t.className = "toast"`))
	browsertest.Screenshot(t, ctx, name, sel)
}

// within runs browser steps with their own time limit.
func within(t *testing.T, ctx context.Context, d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := browsertest.Steps(c, actions...); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\n--- console ---\n%.6000s", what, err, html)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// TestConsoleDrivesRealCodex drives the console of `codexauth serve`
// (loopback, no admin token: mock mode) in headless Chromium while the real
// codex 0.169.0 runs against the issuer. Everything the page shows arrives
// live over its event stream: the page is loaded once.
//   - codex's device login polls; its code appears on the console, which
//     approves it as alice; codex logs in;
//   - the login's code exchange and codex's next refresh appear in the
//     timeline, and the family shows its rotation chain;
//   - the console kills the family, and codex's next command fails with
//     codex's "refresh token was revoked" message;
//   - a fault switched on from the console breaks codex's next login the
//     way the catalogue says, visible in the recorded exchange;
//   - neither the page nor the event stream ever carries codex's refresh,
//     access or id tokens or its user code.
func TestConsoleDrivesRealCodex(t *testing.T) {
	codex, err := codexcli.Find("")
	if err != nil {
		t.Fatalf("this test needs the real codex: %v", err)
	}
	issuerURL := serve(t, "--access-ttl", "240s", "--allow-short-access-ttl", "--device-interval", "1")
	guard, err := codexcli.StartGuard()
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close()
	d, err := codexcli.New(codex, issuerURL, t.TempDir(), guard.URL())
	if err != nil {
		t.Fatal(err)
	}
	d.Timeout = 90 * time.Second
	stream := openEventStream(t, issuerURL+"/console/events")
	ctx := browsertest.Start(t, 5*time.Minute)

	within(t, ctx, 30*time.Second, "open the console",
		chromedp.Navigate(issuerURL+"/"), chromedp.WaitVisible(chromedp.CSS("#mode")),
		chromedp.Poll[chromedp.Void](`document.getElementById("live").classList.contains("on")`),
		chromedp.Evaluate[chromedp.Void](`window.loadedOnce = true`))
	if mode := text(t, ctx, "#mode"); !strings.Contains(mode, "Mock mode") {
		t.Fatalf("the open console does not say it is in mock mode: %q", mode)
	}

	// 1. codex polls; the console approves its code.
	var userCode string
	res, err := d.DeviceLoginWith(context.Background(), func(_ context.Context, code string) error {
		userCode = code
		row := `#devices tr[data-hint^="` + code[:4] + `"][data-status="pending"]`
		within(t, ctx, 30*time.Second, "the polled device code appears on the console",
			chromedp.WaitVisible(chromedp.CSS(row+" button.approve")),
			chromedp.SetValue(chromedp.CSS(row+` select[name="user"]`), "alice"))
		within(t, ctx, 10*time.Second, "approve", chromedp.Click(chromedp.CSS(row+" button.approve")))
		return nil
	})
	if err != nil || res.ExitCode != 0 || !strings.Contains(res.Output(), "Successfully logged in") {
		t.Fatalf("device login approved on the console: %v\n%s", err, res)
	}
	login, err := d.ReadAuth()
	if err != nil {
		t.Fatal(err)
	}
	within(t, ctx, 30*time.Second, "the login appears in the timeline",
		chromedp.WaitVisible(chromedp.CSS(`#timeline details[data-flow="token: authorization_code"][data-outcome="ok"][data-user="alice"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#devices tr[data-status="exchanged"]`)))
	if row := text(t, ctx, `#devices tr[data-status="exchanged"]`); !strings.Contains(row, "alice") || !strings.Contains(row, "by the console") {
		t.Fatalf("the device row does not say the console approved it as alice: %q", row)
	}

	// 2. codex refreshes (its 240 s token is inside its 300 s window).
	if res, err := d.FeaturesList(context.Background()); err != nil || res.ExitCode != 0 {
		t.Fatalf("features list: %v\n%s", err, res)
	}
	refreshed, err := d.ReadAuth()
	if err != nil || refreshed.Tokens.RefreshToken == login.Tokens.RefreshToken {
		t.Fatalf("codex did not refresh: %v", err)
	}
	family := `#families .family[data-user="alice"][data-live="true"]`
	within(t, ctx, 30*time.Second, "the refresh appears in the timeline and the family's chain",
		chromedp.WaitVisible(chromedp.CSS(`#timeline details[data-flow="token: refresh_token"][data-outcome="rotated"][data-user="alice"]`)),
		chromedp.WaitVisible(chromedp.CSS(family+` ol.chain li.k-rotated`)))
	if chain := text(t, ctx, family+" ol.chain"); !strings.Contains(chain, "login") || !strings.Contains(chain, "device login") {
		t.Fatalf("the family's chain lacks its login: %q", chain)
	}
	within(t, ctx, 10*time.Second, "expand the refresh", chromedp.Evaluate[chromedp.Void](
		`document.querySelector('#timeline details[data-flow="token: refresh_token"]').open = true`))
	shot(t, ctx, "console-overview", "")
	shot(t, ctx, "console-timeline", "#timeline")

	// 3. The console kills the family; codex's next command fails.
	within(t, ctx, 30*time.Second, "kill the family",
		chromedp.Click(chromedp.CSS(family+" button.kill")),
		chromedp.WaitVisible(chromedp.CSS(`#families .family.dead[data-user="alice"] .killed`)))
	if killed := text(t, ctx, `#families .family.dead[data-user="alice"] .killed`); !strings.Contains(killed, "the console") {
		t.Fatalf("the family does not say the console killed it: %q", killed)
	}
	res, err = d.Run(context.Background(), "exec", "--skip-git-repo-check", "say hi")
	if err != nil || res.ExitCode == 0 || !strings.Contains(res.Output(), "refresh token was revoked") {
		t.Fatalf("codex's next command after the kill: %v\n%s", err, res)
	}
	for _, l := range strings.Split(res.Output(), "\n") {
		if strings.Contains(l, "refresh token was revoked") {
			t.Logf("codex after the kill: %s", strings.TrimSpace(l))
			break
		}
	}
	within(t, ctx, 30*time.Second, "the refused refresh appears in the timeline",
		chromedp.WaitVisible(chromedp.CSS(`#timeline details[data-outcome="refresh_token_invalidated"][data-user="alice"]`)))
	shot(t, ctx, "console-families", "#families")

	// 4. A fault switched on from the console breaks codex's next login.
	within(t, ctx, 30*time.Second, "switch interval-number on",
		chromedp.Click(chromedp.CSS(`#fault-interval-number button.toggle`)),
		chromedp.WaitVisible(chromedp.CSS(`#fault-interval-number.on`)), chromedp.WaitVisible(chromedp.CSS(`#faults-on`)))
	res, err = d.DeviceLogin(context.Background())
	if err != nil || res.ExitCode == 0 || !strings.Contains(res.Output(), "invalid type: integer") || !strings.Contains(res.Output(), "expected a string") {
		t.Fatalf("device login with interval-number on: %v\n%s", err, res)
	}
	usercode := `#timeline details[data-flow="device: usercode"]`
	within(t, ctx, 30*time.Second, "the faulty answer appears in the timeline",
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('`+usercode+`').length >= 2`))
	answer, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){var d=document.querySelector('`+usercode+`'); d.open=true; return d.querySelector("pre.response").textContent})()`))
	if err != nil || !strings.Contains(answer, `"interval": 1`) {
		t.Fatalf("the recorded usercode answer does not show the numeric interval: %v\n%s", err, answer)
	}
	within(t, ctx, 30*time.Second, "switch interval-number off",
		chromedp.Click(chromedp.CSS(`#fault-interval-number button.toggle`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#fault-interval-number.on`)), chromedp.WaitNotPresent(chromedp.CSS(`#faults-on`)))

	// The page was never reloaded: everything above arrived live.
	if still, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.loadedOnce === true`)); err != nil || !still {
		t.Fatalf("the console page was reloaded (%v): updates must arrive over the event stream", err)
	}

	// 5. No secret of codex's on the page or in the event stream.
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	events := stream.String()
	if !strings.Contains(events, "event: request") || !strings.Contains(events, "refresh_token_invalidated") {
		t.Fatalf("the event stream did not carry the requests:\n%.2000s", events)
	}
	secrets := map[string]string{"user code": userCode, "user code (bare)": strings.ReplaceAll(userCode, "-", "")}
	for i, a := range []codexcli.AuthFile{login, refreshed} {
		n := []string{"login", "refreshed"}[i]
		secrets[n+" refresh token"] = a.Tokens.RefreshToken
		secrets[n+" access token"] = a.Tokens.AccessToken
		secrets[n+" id token"] = a.Tokens.IDToken
		secrets[n+" access token signature"] = a.Tokens.AccessToken[strings.LastIndex(a.Tokens.AccessToken, ".")+1:]
		secrets[n+" id token signature"] = a.Tokens.IDToken[strings.LastIndex(a.Tokens.IDToken, ".")+1:]
	}
	for name, v := range secrets {
		if v == "" {
			t.Fatalf("no %s to look for", name)
		}
		if strings.Contains(html, v) {
			t.Errorf("the console page shows codex's %s", name)
		}
		if strings.Contains(events, v) {
			t.Errorf("the event stream carries codex's %s", name)
		}
	}
	t.Logf("scanned %d KiB of console HTML and %d KiB of events for %d secrets", len(html)>>10, len(events)>>10, len(secrets))
}
