package issuer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/internal/browsertest"
	"github.com/codexauth/codexauth/issuer"
)

// browser starts headless Chromium for a page test (testutil.Browser).
func browser(t *testing.T) context.Context { return browsertest.Start(t, 60*time.Second) }

// steps runs browser actions in order, stopping at the first error.
var steps = browsertest.Steps

// screenshot saves a PNG of the page when CODEXAUTH_SCREENSHOTS names a folder.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("CODEXAUTH_SCREENSHOTS")
	if dir == "" {
		return
	}
	if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	}
}

// TestDevicePageInBrowser: a person opens the verification link, signs in
// by picking a user, sees which client asks, and approves; codex's poll
// then gets its grant. Denial works the same way.
func TestDevicePageInBrowser(t *testing.T) {
	e := start(t, nil)
	c := wire.NewClient(e.url, "")
	ctx := browser(t)
	for i, action := range []string{"approve", "deny"} {
		d, ex := c.RequestDeviceCode(context.Background())
		if ex.Status != 200 {
			t.Fatal(ex)
		}
		link := e.url + "/codex/device?user_code=" + url.QueryEscape(d.UserCode)
		if i == 0 { // not signed in yet: the link leads through the login page
			if err := steps(ctx, chromedp.Navigate(link), chromedp.WaitVisible(`button[value="alice"]`)); err != nil {
				t.Fatalf("open the verification link: %v", err)
			}
			screenshot(t, ctx, "login")
			if err := steps(ctx, chromedp.Click(`button[value="alice"]`), chromedp.WaitVisible(`#approve`)); err != nil {
				t.Fatalf("sign in: %v", err)
			}
		} else if err := steps(ctx, chromedp.Navigate(link), chromedp.WaitVisible(`#approve`)); err != nil {
			t.Fatalf("open the verification link signed in: %v", err)
		}
		client, err := chromedp.Run(ctx, chromedp.Text(`#client`))
		if err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "device-confirm")
		if err := steps(ctx, chromedp.Click("#"+action), chromedp.WaitVisible(`p[role="status"]`)); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		result, err := chromedp.Run(ctx, chromedp.Text(`main`))
		if err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "device-"+action)
		if client != issuer.CodexClientID {
			t.Fatalf("confirmation page shows client %q", client)
		}
		poll := c.DevicePoll(context.Background(), d)
		switch action {
		case "approve":
			if !strings.Contains(result, "Device connected") || poll.Status != 200 {
				t.Fatalf("after approving: page %q, poll %s", result, poll)
			}
		case "deny":
			if !strings.Contains(result, "denied") || poll.Status != 400 || wire.ErrorCode(poll.Body) != "access_denied" {
				t.Fatalf("after denying: page %q, poll %s", result, poll)
			}
		}
	}
}

// TestLoginPageThenAuthorizeInBrowser: the browser leg of PKCE login — the
// authorize URL leads to the login page, the user types a name, and the
// browser lands on the client's redirect URI with a code and the state.
func TestLoginPageThenAuthorizeInBrowser(t *testing.T) {
	var mu sync.Mutex
	var got url.Values
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/callback" {
			http.NotFound(w, r) // the browser also asks for /favicon.ico
			return
		}
		mu.Lock()
		got = r.URL.Query()
		mu.Unlock()
		w.Write([]byte("<html><body><h1>callback received</h1></body></html>"))
	}))
	defer cb.Close()
	redirect := cb.URL + "/auth/callback"
	e := start(t, func(c *issuer.Config) { c.RedirectURIs = []string{redirect} })
	p := wire.NewPKCE()
	authURL := wire.NewClient(e.url, "").AuthorizeURL(redirect, p, "state-xyz")
	ctx := browser(t)
	err := steps(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, "bob"),
		chromedp.Click(`#signin`),
		chromedp.WaitVisible(`h1`))
	if err != nil {
		t.Fatal(err)
	}
	h1, err := chromedp.Run(ctx, chromedp.Text(`h1`))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if h1 != "callback received" || got.Get("state") != "state-xyz" || got.Get("code") == "" {
		t.Fatalf("callback: %q %v", h1, got)
	}
	ex := wire.NewClient(e.url, "").ExchangeCode(context.Background(), got.Get("code"), redirect, p.Verifier)
	toks, err := wire.ParseTokens(ex)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := wire.ParseIDToken(toks.IDToken); info.AccountID != "acct_bob" {
		t.Fatalf("signed in as %q, want bob", info.AccountID)
	}
}

// TestFormsRefuseCrossSitePosts: the login and device forms need the
// double-submit CSRF token; a post from another origin or without the
// cookie is refused and changes nothing.
func TestFormsRefuseCrossSitePosts(t *testing.T) {
	e := start(t, nil)
	form := url.Values{"username": {"alice"}, "csrf": {"forged-token-forged-token-forged-token"}}.Encode()
	r := e.do("POST", "/login", "application/x-www-form-urlencoded", form, "Cookie", "codexauth_csrf=another-token-another-token-another-tok")
	if r.status != 403 || r.header.Get("Set-Cookie") != "" && strings.Contains(r.header.Get("Set-Cookie"), "codexauth_session") {
		t.Fatalf("forged login post: %d", r.status)
	}
	tok := "same-token-same-token-same-token-same"
	r = e.do("POST", "/login", "application/x-www-form-urlencoded", url.Values{"username": {"alice"}, "csrf": {tok}}.Encode(),
		"Cookie", "codexauth_csrf="+tok, "Origin", "https://evil.example")
	if r.status != 403 {
		t.Fatalf("cross-origin login post: %d", r.status)
	}
	r = e.do("POST", "/login", "application/x-www-form-urlencoded", url.Values{"username": {"alice"}, "csrf": {tok}, "return_to": {"https://evil.example/"}}.Encode(),
		"Cookie", "codexauth_csrf="+tok)
	if r.status != 303 || r.header.Get("Location") != "/codex/device" {
		t.Fatalf("same-site login post must work and never redirect off-site: %d %q", r.status, r.header.Get("Location"))
	}
	if h := r.header.Get("Set-Cookie"); !strings.Contains(h, "HttpOnly") || !strings.Contains(h, "SameSite=Lax") {
		t.Fatalf("session cookie flags: %q", h)
	}
}
