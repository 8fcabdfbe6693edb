package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/internal/browsertest"
)

// mockProxy is a running `codexauth proxy` and what it printed.
type mockProxy struct {
	URL    string
	CAOut  string
	Env    map[string]string // the export lines, in print order below
	Order  []string
	Output string
}

// startProxy runs `codexauth proxy --issuer issuerURL` on a free port and
// reads its usage text up to the end of the browser hint.
func startProxy(t *testing.T, issuerURL string, extra ...string) *mockProxy {
	t.Helper()
	dir := t.TempDir()
	p := &mockProxy{CAOut: filepath.Join(dir, "out-ca.pem"), Env: map[string]string{}}
	cmd := exec.Command(bin, append([]string{"proxy", "--issuer", issuerURL, "--addr", "127.0.0.1:0", "--ca-dir", filepath.Join(dir, "ca"), "--ca-out", p.CAOut}, extra...)...)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if rest, ok := strings.CutPrefix(line, "codexauth proxy listening on "); ok {
				p.URL = strings.Fields(rest)[0]
				p.URL = strings.TrimSuffix(p.URL, ",")
			}
			if kv, ok := strings.CutPrefix(line, "export "); ok {
				k, v, _ := strings.Cut(kv, "=")
				p.Env[k] = strings.Trim(v, "'")
				p.Order = append(p.Order, k)
			}
			if strings.Contains(line, "the mock redirects back to codex") {
				done <- nil
				io.Copy(io.Discard, stdout)
				return
			}
		}
		done <- errors.New("proxy exited")
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("codexauth proxy: %v\n%s\n%s", err, out.String(), stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("codexauth proxy printed no usage:\n%s", out.String())
	}
	p.Output = out.String()
	return p
}

func curl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "20"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	case err != nil:
		t.Fatalf("curl: %v (scripts/test.sh expects curl on the machine)", err)
	}
	return 0, out.String(), errb.String()
}

// TestProxyServesAuthOpenAIComFromTheMock: a generic client — curl with
// --proxy and the CA — reaches the mock's discovery as
// https://auth.openai.com/.well-known/openid-configuration; every other host
// is refused, and so is a chatgpt.com path the mock does not serve. The
// printed environment names the proxy and the CA files.
func TestProxyServesAuthOpenAIComFromTheMock(t *testing.T) {
	issuerURL := serve(t)
	p := startProxy(t, issuerURL)
	want := []string{"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "CODEX_CA_CERTIFICATE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"}
	if strings.Join(p.Order, " ") != strings.Join(want, " ") || p.Env["HTTPS_PROXY"] != p.URL || p.Env["NODE_EXTRA_CA_CERTS"] != p.CAOut {
		t.Fatalf("printed environment %v %v, want %v with HTTPS_PROXY=%s:\n%s", p.Order, p.Env, want, p.URL, p.Output)
	}
	bundle, err := os.ReadFile(p.Env["SSL_CERT_FILE"])
	ca, _ := os.ReadFile(p.CAOut)
	if err != nil || !bytes.HasSuffix(bundle, ca) || len(bundle) == len(ca) && !strings.Contains(p.Output, "no system root certificates") {
		t.Fatalf("trust bundle %s must be the system roots plus the CA: %v", p.Env["SSL_CERT_FILE"], err)
	}

	code, body, errOut := curl(t, "--proxy", p.URL, "--cacert", p.CAOut, "https://auth.openai.com/.well-known/openid-configuration")
	var disc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if code != 0 || json.Unmarshal([]byte(body), &disc) != nil || disc.Issuer != issuerURL {
		t.Fatalf("discovery through the proxy: curl exit %d, %s %s", code, body, errOut)
	}
	t.Logf("curl --proxy %s --cacert CA https://auth.openai.com/.well-known/openid-configuration → issuer %s", p.URL, disc.Issuer)

	code, _, errOut = curl(t, "--proxy", p.URL, "--cacert", p.CAOut, "https://example.com/")
	if code == 0 || !strings.Contains(errOut, "403") {
		t.Fatalf("example.com through the proxy: curl exit %d %s", code, errOut)
	}
	code, body, _ = curl(t, "--proxy", p.URL, "-o", "/dev/null", "-w", "%{http_code}", "http://example.com/")
	if code != 0 || body != "403" {
		t.Fatalf("plain http://example.com through the proxy: exit %d, status %s", code, body)
	}
	code, body, _ = curl(t, "--proxy", p.URL, "--cacert", p.CAOut, "-w", "%{http_code}", "https://chatgpt.com/backend-api/codex/responses")
	if code != 0 || !strings.HasSuffix(body, "403") || !strings.Contains(body, "--pass-through chatgpt.com") {
		t.Fatalf("chatgpt.com path the mock does not serve: exit %d %q", code, body)
	}
	code, body, _ = curl(t, "--proxy", p.URL, "--cacert", p.CAOut, "https://chatgpt.com/backend-api/wham/agent-identities/jwks")
	if code != 0 || !strings.Contains(body, `"keys"`) {
		t.Fatalf("agent-identity JWKS on chatgpt.com through the proxy: exit %d %q", code, body)
	}
	// The CA is name-constrained: a certificate it signed for another host
	// would not verify, even for a client that trusts the CA.
	if !strings.Contains(p.Output, "valid only for auth.openai.com, chatgpt.com") {
		t.Fatalf("the proxy does not say what its CA is valid for:\n%s", p.Output)
	}
}

// TestProxyPrintCA: --print-ca prints the persisted CA, the same on every
// run, and --ca-out writes the same certificate.
func TestProxyPrintCA(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ca-copy.pem")
	code, first := runCLI(t, "proxy", "--print-ca", "--ca-dir", dir, "--ca-out", out)
	code2, second := runCLI(t, "proxy", "--print-ca", "--ca-dir", dir)
	copied, err := os.ReadFile(out)
	if code != 0 || code2 != 0 || !strings.HasPrefix(first, "-----BEGIN CERTIFICATE-----") || first != second || string(copied) != first || err != nil {
		t.Fatalf("--print-ca: %d %d\n%s\n%s (copy: %v)", code, code2, first, second, err)
	}
	if code, out := runCLI(t, "proxy", "--ca-dir", dir); code != 2 || !strings.Contains(out, "--issuer is required") {
		t.Fatalf("proxy without --issuer: %d %s", code, out)
	}
}

// loginPortLock serialises codex browser logins across test processes
// (codex binds 127.0.0.1:1455); the same lock file as harness/codexcli.
func loginPortLock(t *testing.T) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "codexauth-login-1455.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() })
}

// codexRun is a codex command whose output is watched line by line.
type codexRun struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	line chan string
	done chan struct{}
	err  error
}

func startCodex(t *testing.T, codex string, env []string, args ...string) *codexRun {
	t.Helper()
	cmd := exec.Command(codex, args...)
	cmd.Env = env
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	r := &codexRun{cmd: cmd, line: make(chan string, 256), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := codexcli.StripANSI(sc.Text())
			r.mu.Lock()
			r.out.WriteString(l + "\n")
			r.mu.Unlock()
			select {
			case r.line <- l:
			default:
			}
		}
	}()
	go func() { r.err = cmd.Wait(); pw.Close(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *codexRun) output() string { r.mu.Lock(); defer r.mu.Unlock(); return r.out.String() }

func (r *codexRun) waitLine(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-r.line:
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-r.done:
			t.Fatalf("codex exited before printing %s:\n%s", re, r.output())
		case <-deadline:
			t.Fatalf("codex did not print %s within %s:\n%s", re, timeout, r.output())
		}
	}
}

func (r *codexRun) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		t.Fatalf("codex did not finish within %s:\n%s", timeout, r.output())
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	return 0
}

// codexEnv is a clean environment for codex with a fresh CODEX_HOME plus
// extra (the proxy's printed variables): nothing points codex anywhere
// but its defaults.
func codexEnv(t *testing.T, extra map[string]string) ([]string, string) {
	home := filepath.Join(t.TempDir(), "codex-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"CODEX_HOME=" + home, "HOME=" + filepath.Dir(home), "PATH=" + os.Getenv("PATH"), "TMPDIR=" + filepath.Dir(home),
		"BROWSER=/bin/true", "NO_COLOR=1", "TERM=dumb", "RUST_LOG=error"}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env, home
}

var authorizeURLLine = regexp.MustCompile(`(https://auth\.openai\.com/oauth/authorize\?\S+)`)

// TestRealCodexBrowserLoginThroughProxy: the real codex 0.169.0 runs
// `codex login` — the browser flow, default issuer, no hidden flag and no
// URL override — with only the environment `codexauth proxy` printed. A
// headless Chromium that uses the same proxy opens the authorize URL codex
// printed (on https://auth.openai.com), signs in at the mock's login page,
// and is redirected to codex's loopback callback; codex completes the login
// against the mock. Its next refresh and its logout reach the mock through
// the proxy too.
func TestRealCodexBrowserLoginThroughProxy(t *testing.T) {
	codex, err := codexcli.Find("")
	if err != nil {
		t.Fatalf("this test needs the real codex: %v", err)
	}
	issuerURL := serve(t, "--access-ttl", "240s", "--allow-short-access-ttl")
	p := startProxy(t, issuerURL)
	env, home := codexEnv(t, p.Env)
	loginPortLock(t)

	run := startCodex(t, codex, env, "login")
	authURL := run.waitLine(t, authorizeURLLine, 30*time.Second)[1]
	ctx := browsertest.Start(t, 90*time.Second, chromedp.ProxyServer(p.URL), chromedp.IgnoreCertErrors)
	if err := browsertest.Steps(ctx, chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS(`button[value="alice"]`))); err != nil {
		t.Fatalf("the browser did not reach the mock's login page at %s: %v\ncodex:\n%s", authURL, err, run.output())
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, "https://auth.openai.com/login") {
		t.Fatalf("the login page is not on https://auth.openai.com: %q %v", loc, err)
	}
	browsertest.Screenshot(t, ctx, "proxy-login", "")
	if err := browsertest.Steps(ctx, chromedp.Click(chromedp.CSS(`button[value="alice"]`))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if code := run.wait(t, 60*time.Second); code != 0 || !strings.Contains(run.output(), "Successfully logged in") {
		t.Fatalf("codex login through the proxy: exit %d\n%s", code, run.output())
	}
	landed, _ := chromedp.Run(ctx, chromedp.Location())
	landed, _, _ = strings.Cut(landed, "?") // its query carries the id_token
	t.Logf("browser ended on %s", landed)
	if !strings.HasPrefix(landed, "http://localhost:1455/success") && !strings.HasPrefix(landed, "http://127.0.0.1:1455/success") {
		t.Errorf("the browser was not sent back to codex's loopback server: %s", landed)
	}
	auth := readAuthJSON(t, home)
	if auth.Tokens.RefreshToken == "" || auth.Tokens.OAuthProvenance.Issuer != "https://auth.openai.com" {
		t.Fatalf("auth.json after the browser login: %+v", auth)
	}

	// A refresh (240 s tokens are inside codex's 300 s window) goes to
	// codex's default https://auth.openai.com/oauth/token: the proxy sends
	// it to the mock, which rotates the token.
	fl := startCodex(t, codex, env, "features", "list")
	if code := fl.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("features list: exit %d\n%s", code, fl.output())
	}
	after := readAuthJSON(t, home)
	if after.Tokens.RefreshToken == auth.Tokens.RefreshToken {
		t.Fatalf("codex did not refresh through the proxy at the mock")
	}
	// Logout revokes at https://auth.openai.com/oauth/revoke: the mock.
	lo := startCodex(t, codex, env, "logout")
	if code := lo.wait(t, 60*time.Second); code != 0 || !strings.Contains(lo.output(), "Successfully logged out") {
		t.Fatalf("logout: exit %d\n%s", code, lo.output())
	}
	res, err := http.Post(issuerURL+"/oauth/token", "application/json", strings.NewReader(fmt.Sprintf(
		`{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_token":%q}`, after.Tokens.RefreshToken)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// The newest token (the one codex held when it logged out) must be
	// refused as revoked: only the revocation reaching the mock does that.
	if res.StatusCode != 401 || !strings.Contains(string(b), "refresh_token_invalidated") {
		t.Fatalf("codex's refresh token after logout through the proxy: %d %s, want 401 refresh_token_invalidated", res.StatusCode, b)
	}
}

type authJSON struct {
	Tokens struct {
		RefreshToken    string `json:"refresh_token"`
		AccessToken     string `json:"access_token"`
		IDToken         string `json:"id_token"`
		OAuthProvenance struct {
			Issuer string `json:"issuer"`
		} `json:"oauth_provenance"`
	} `json:"tokens"`
}

func readAuthJSON(t *testing.T, home string) authJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a authJSON
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}
