package issuer_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/issuer"
)

// stepsWithin runs steps with their own time limit, leaving the browser
// usable when they fail.
func stepsWithin(ctx context.Context, d time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return steps(c, actions...)
}

func evalString(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return s
}

// TestConsoleAdminTokenLoginInBrowser: with an admin token the console
// asks for it once; a wrong one is refused; the session cookie is out of
// reach of scripts (HttpOnly); a console form with a forged CSRF token is
// refused and changes nothing, and so does a page on another site that
// posts to the console.
func TestConsoleAdminTokenLoginInBrowser(t *testing.T) {
	e := start(t, nil)
	ctx := browser(t)
	if err := steps(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS("#token"))); err != nil {
		t.Fatalf("open the console: %v", err)
	}
	screenshot(t, ctx, "console-login")
	if err := steps(ctx, chromedp.SendKeys(chromedp.CSS("#token"), "not-the-admin-token-000"), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#login-error"))); err != nil {
		t.Fatalf("wrong token: %v", err)
	}
	if err := stepsWithin(ctx, 15*time.Second, chromedp.SendKeys(chromedp.CSS("#token"), adminToken), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#timeline")),
		chromedp.Poll[chromedp.Void](`document.getElementById("live").classList.contains("on")`)); err != nil {
		html, err2 := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + document.title + " " + (document.getElementById("live")||{}).outerHTML`))
		html += fmt.Sprint(err2)
		t.Fatalf("sign in with the admin token: %v\n%s", err, html)
	}
	if mode := evalString(t, ctx, `document.getElementById("mode").textContent`); !strings.Contains(mode, "Signed in with the admin token") {
		t.Fatalf("mode banner: %q", mode)
	}
	if cookies := evalString(t, ctx, `document.cookie`); strings.Contains(cookies, "codexauth_console") || strings.Contains(cookies, "codexauth_csrf") {
		t.Fatalf("scripts can read the console's cookies: %q", cookies)
	}

	// A forged CSRF token in the page's own form.
	const toggle = `#fault-padded-jwt button.toggle`
	if err := steps(ctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#fault-padded-jwt input[name="csrf"]').value = "forged-forged-forged-forged-forged-forged"`),
		chromedp.Click(chromedp.CSS(toggle)),
		chromedp.WaitVisible(chromedp.CSS("#toast.bad"))); err != nil {
		t.Fatalf("forged CSRF token: %v", err)
	}
	if msg := evalString(t, ctx, `document.getElementById("toast").textContent`); !strings.Contains(msg, "request refused") || e.srv.Faults().Has("padded-jwt") {
		t.Fatalf("a forged CSRF token: toast %q, fault on: %v", msg, e.srv.Faults().Has("padded-jwt"))
	}

	// A page on another site (localhost is another site than 127.0.0.1)
	// that posts the same form: the browser sends no SameSite=Strict cookie.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form method="post" action="%s/console/faults"><input name="name" value="padded-jwt"><input name="on" value="1"><input name="csrf" value="guess"></form><script>document.forms[0].submit()</script>`, e.url)
	})}}
	evil.Start()
	defer evil.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if err := steps(ctx, chromedp.Navigate("http://localhost:"+port+"/"),
		chromedp.Poll[chromedp.Void](`location.pathname === "/console/faults"`)); err != nil {
		t.Fatalf("cross-site post: %v", err)
	}
	body := evalString(t, ctx, `document.body.textContent`)
	if e.srv.Faults().Has("padded-jwt") || !strings.Contains(body, "sign in to the console") {
		t.Fatalf("a cross-site post to the console: fault on %v, answer %q", e.srv.Faults().Has("padded-jwt"), body)
	}

	// The genuine form still works.
	if err := steps(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS(toggle)), chromedp.Click(chromedp.CSS(toggle)),
		chromedp.WaitVisible(chromedp.CSS("#fault-padded-jwt.on"))); err != nil || !e.srv.Faults().Has("padded-jwt") {
		t.Fatalf("toggle the fault from the console: %v", err)
	}
}

// TestConsoleWithoutJavaScript: with scripts off the console still works
// as plain forms and reloads: a device code is approved from it and the
// page comes back saying so.
func TestConsoleWithoutJavaScript(t *testing.T) {
	e := start(t, func(c *issuer.Config) { c.AdminToken, c.LoopbackOnly = "", true })
	ctx := browser(t)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	wc := wire.NewClient(e.url, "")
	d, ex := wc.RequestDeviceCode(context.Background())
	if ex.Status != 200 {
		t.Fatal(ex)
	}
	row := `#devices tr[data-hint^="` + d.UserCode[:4] + `"]`
	if err := steps(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS(row+" button.approve"))); err != nil {
		t.Fatalf("open the console: %v", err)
	}
	if live, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#live"))); live != "reload to update" {
		t.Fatalf("without scripts the console must not claim to be live: %q", live)
	}
	if err := stepsWithin(ctx, 15*time.Second, chromedp.SetValue(chromedp.CSS(row+` select`), "bob"), chromedp.Click(chromedp.CSS(row+" button.approve")),
		chromedp.WaitVisible(chromedp.CSS(`.banner.ok`))); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + document.body.innerHTML.slice(0, 1500)`))
		t.Fatalf("approve without scripts: %v\n%s", err, html)
	}
	note, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(".banner.ok")))
	if !strings.Contains(note, "approved as bob") {
		t.Fatalf("note after the reload: %q", note)
	}
	poll := wc.DevicePoll(context.Background(), d)
	g, err := wire.ParseDeviceGrant(poll)
	if err != nil {
		t.Fatalf("poll after approval without scripts: %v %s", err, poll)
	}
	toks, err := wire.ParseTokens(wc.ExchangeCode(context.Background(), g.AuthorizationCode, wc.DeviceCallback(), g.CodeVerifier))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := wire.ParseIDToken(toks.IDToken); info.AccountID != "acct_bob" {
		t.Fatalf("signed in as %q, want bob", info.AccountID)
	}
}
