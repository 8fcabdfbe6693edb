package main_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codexauth/codexauth/internal/browsertest"
)

// TestHTMLReportShowsTheRootCauseAndItsEvidence opens the HTML report of a
// run against the reference issuer with a fault on, in headless Chromium:
// the root causes are listed first, and the first one's evidence shows the
// offending exchange with the token decoded (and no raw token in the page).
// CODEXAUTH_SCREENSHOTS=DIR keeps the screenshots (docs/ holds them).
func TestHTMLReportShowsTheRootCauseAndItsEvidence(t *testing.T) {
	out := t.TempDir()
	code, log := runCLI(t, "conform", "--no-codex", "--quiet", "--profile", "core", "--fault", "email-not-string", "--out", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, log)
	}
	page := filepath.Join(out, "conformance.html")
	ctx := browsertest.Start(t, 60*time.Second)
	run := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, a); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	run("viewport", chromedp.EmulateViewport(1280, 900))
	run("open the report", chromedp.Navigate("file://"+page))
	verdict, firstRoot := text(`.verdict`), text(`table:nth-of-type(2) tr:nth-child(2) td:first-child`)
	overview, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	run("follow the root cause", chromedp.Click(`a.root`))
	root := "#" + strings.TrimSpace(firstRoot)
	run("evidence shown", chromedp.WaitVisible(root+` details.ex pre`))
	run("open the last exchange", chromedp.Evaluate[chromedp.Void](`(function(){var x=document.querySelectorAll('`+root+` details.ex'); x[x.length-1].open=true})()`))
	run("scroll", chromedp.ScrollIntoView(root+` details.ex:last-of-type`))
	evidence, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	claims, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('`+root+` details.ex')).map(function(e){e.open=true; return e.textContent}).join('\n')`))
	if err != nil {
		t.Fatal(err)
	}
	// email-not-string breaks the id_token of every answer: the login's
	// (CDX-CLAIMS-003) and the refresh's (CDX-REFRESH-003, which blocks the
	// specs that refresh, so it comes first).
	if verdict != "NON-CONFORMANT" || !slices.Contains([]string{"CDX-REFRESH-003", "CDX-CLAIMS-003"}, strings.TrimSpace(firstRoot)) {
		t.Fatalf("verdict %q, first root cause %q; want NON-CONFORMANT and CDX-REFRESH-003 or CDX-CLAIMS-003", verdict, firstRoot)
	}
	if !strings.Contains(claims, `"email": 42`) || !strings.Contains(claims, "signature elided") {
		t.Fatalf("the evidence does not show the decoded id_token with its numeric email:\n%.2000s", claims)
	}
	if strings.Contains(claims, "eyJ") {
		t.Fatalf("a raw JWT in the evidence:\n%.2000s", claims)
	}
	if dir := os.Getenv("CODEXAUTH_SCREENSHOTS"); dir != "" {
		for name, png := range map[string][]byte{"report-overview.png": overview, "report-root-cause-evidence.png": evidence} {
			if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
