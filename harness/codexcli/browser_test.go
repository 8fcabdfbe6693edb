package codexcli_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/internal/builtin"
)

// TestRealCodexBrowserLogin drives `codex login` (browser), whose issuer is
// fixed to https://auth.openai.com, through the guard's TLS interception to
// the built-in issuer; the approver completes the authorize URL and the
// callback is delivered to codex's loopback server.
func TestRealCodexBrowserLogin(t *testing.T) {
	codex := codexBin(t)
	ctx := context.Background()
	target, err := harness.Open(ctx, harness.Config{Builtin: builtin.Start})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	guard, err := codexcli.StartGuard()
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close()
	d, err := codexcli.New(codex, target.Issuer, t.TempDir(), guard.URL())
	if err != nil {
		t.Fatal(err)
	}
	d.Timeout = 30 * time.Second
	res, err := d.BrowserLogin(ctx, guard, target.Approver.Authorize, false)
	if err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	t.Logf("intercepted: %v; refused: %v", guard.Intercepted(), guard.Refused())
	if res.ExitCode != 0 {
		t.Fatalf("browser login failed:\n%s", res)
	}
	a, err := d.ReadAuth()
	if err != nil {
		t.Fatal(err)
	}
	if a.Tokens == nil || a.Tokens.RefreshToken == "" || a.OpenAIAPIKey == nil || !strings.HasPrefix(*a.OpenAIAPIKey, "sk-") {
		t.Fatalf("auth.json after browser login: %+v", a)
	}
	if guard.Intercepted()["auth.openai.com /oauth/token"] != 2 {
		t.Fatalf("want the code exchange and the API-key exchange through the interception, got %v", guard.Intercepted())
	}
}

// TestGuardRefusesEveryOtherHost proves a codex run cannot reach anything
// but the issuer: a CONNECT to any other host is refused locally, both for
// a Go client and for the real codex pointed at a non-loopback issuer.
func TestGuardRefusesEveryOtherHost(t *testing.T) {
	guard, err := codexcli.StartGuard()
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close()
	proxy, _ := url.Parse(guard.URL())
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{}}}
	for _, u := range []string{"https://auth.openai.com/oauth/token", "https://chatgpt.com/backend-api/", "http://example.com/"} {
		res, err := c.Get(u)
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("%s went through the guard: %d", u, res.StatusCode)
			}
		}
	}
	codex := codexBin(t)
	d, err := codexcli.New(codex, "https://auth.codexauth-guard-test.example", t.TempDir(), guard.URL())
	if err != nil {
		t.Fatal(err)
	}
	d.Timeout = 30 * time.Second
	// The issuer host would normally be exempt (NO_PROXY); drop that so the
	// request must pass the guard.
	d.Env = append(d.Env, "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1")
	res, err := d.DeviceLogin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 {
		t.Fatalf("codex logged in through a refusing guard:\n%s", res)
	}
	refused := strings.Join(guard.Refused(), " ")
	for _, want := range []string{"auth.openai.com:443", "chatgpt.com:443", "example.com", "auth.codexauth-guard-test.example:443"} {
		if !strings.Contains(refused, want) {
			t.Errorf("guard did not record a refused attempt to %s (refused: %s)", want, refused)
		}
	}
	t.Logf("codex output: %s\nrefused: %s", strings.TrimSpace(res.Output()), refused)
}
