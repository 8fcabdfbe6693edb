package codexcli_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/internal/testutil"
)

// codexBin installs the pinned codex through scripts/install-codex.sh (a
// cache hit after the first time). A missing npm is a failure, not a skip:
// the real client is part of the test command.
func codexBin(t *testing.T) string { return testutil.CodexBin(t) }

func buildCodexauth(t *testing.T) string { return testutil.Build(t) }

// serve starts `codexauth serve` on a free port with a SQLite store and
// returns its URL.
func serve(t *testing.T, bin string, args ...string) string {
	t.Helper()
	return testutil.StartServe(t, bin, "127.0.0.1:0", append([]string{"--store", "sqlite:" + filepath.Join(t.TempDir(), "issuer.db")}, args...)...).URL
}

// driver prepares codex against issuerURL behind a guard proxy that is
// closed when the test ends.
func driver(t *testing.T, codex, issuerURL string) *codexcli.Driver {
	t.Helper()
	guard, err := codexcli.StartGuard()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guard.Close() })
	d, err := codexcli.New(codex, issuerURL, t.TempDir(), guard.URL())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func jwtExp(t *testing.T, jwt string) int64 {
	parts := strings.Split(jwt, ".")
	if len(parts) < 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Exp
}

func refreshStatus(t *testing.T, issuer, rt string) (int, string) {
	body := fmt.Sprintf(`{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_token":%q}`, rt)
	res, err := http.Post(issuer+"/oauth/token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestRealCodexDeviceLoginRefreshLogout is the reference issuer's end-to-end
// proof: the real codex 0.169.0 signs in, refreshes and signs out against
// `codexauth serve --auto-approve`.
func TestRealCodexDeviceLoginRefreshLogout(t *testing.T) {
	codex := codexBin(t)
	issuerURL := serve(t, buildCodexauth(t), "--auto-approve", "alice", "--access-ttl", "240s", "--allow-short-access-ttl", "--device-interval", "1")
	d := driver(t, codex, issuerURL)
	ctx := context.Background()

	res, err := d.DeviceLogin(ctx)
	if err != nil || res.ExitCode != 0 || !strings.Contains(res.Output(), "Successfully logged in") {
		t.Fatalf("device login failed: %v\n%s", err, res)
	}
	if !strings.Contains(res.Output(), issuerURL+"/codex/device") {
		t.Errorf("verification URL %s/codex/device not printed:\n%s", issuerURL, res.Output())
	}
	a, err := d.ReadAuth()
	if err != nil {
		t.Fatal(err)
	}
	if a.AuthMode != "chatgpt" || a.Tokens == nil || a.Tokens.IDToken == "" || a.Tokens.AccessToken == "" || a.Tokens.RefreshToken == "" {
		t.Fatalf("auth.json after login lacks tokens: %+v", a)
	}
	if a.Tokens.AccountID == nil || *a.Tokens.AccountID != "acct_alice" {
		t.Fatalf("account_id = %v, want acct_alice", a.Tokens.AccountID)
	}
	if a.Tokens.OAuthProvenance == nil || a.Tokens.OAuthProvenance.Issuer != issuerURL {
		t.Fatalf("provenance = %+v", a.Tokens.OAuthProvenance)
	}
	if a.OpenAIAPIKey != nil {
		t.Fatalf("device login must not store an API key")
	}
	t.Logf("device login: %s", res.Duration.Round(time.Millisecond))

	// The access token lives 240 s, inside codex's 300 s window: any
	// auth-loading command refreshes it.
	res, err = d.FeaturesList(ctx)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("features list: %v\n%s", err, res)
	}
	b, err := d.ReadAuth()
	if err != nil {
		t.Fatal(err)
	}
	if b.Tokens.RefreshToken == a.Tokens.RefreshToken || b.Tokens.AccessToken == a.Tokens.AccessToken {
		t.Fatalf("codex did not rotate its tokens through the issuer")
	}
	if jwtExp(t, b.Tokens.AccessToken) < jwtExp(t, a.Tokens.AccessToken) {
		t.Fatalf("refreshed access token expires earlier")
	}
	// The rotated-out token is now reuse.
	if st, body := refreshStatus(t, issuerURL, a.Tokens.RefreshToken); st != 401 || !strings.Contains(body, "refresh_token_reused") {
		t.Fatalf("rotated-out token: %d %s", st, body)
	}
	t.Logf("refresh via features list: %s", res.Duration.Round(time.Millisecond))
}

// TestRealCodexLogoutRevokesFamily: codex logout sends the refresh token to
// the revoke override, the issuer revokes the family, auth.json is deleted.
func TestRealCodexLogoutRevokesFamily(t *testing.T) {
	codex := codexBin(t)
	issuerURL := serve(t, buildCodexauth(t), "--auto-approve", "bob", "--device-interval", "1")
	d := driver(t, codex, issuerURL)
	ctx := context.Background()
	if res, err := d.DeviceLogin(ctx); err != nil || res.ExitCode != 0 {
		t.Fatalf("login: %v\n%s", err, res)
	}
	a, _ := d.ReadAuth()
	res, err := d.Logout(ctx)
	if err != nil || res.ExitCode != 0 || !strings.Contains(res.Output(), "Successfully logged out") {
		t.Fatalf("logout: %v\n%s", err, res)
	}
	if _, err := d.ReadAuth(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("auth.json still present after logout: %v", err)
	}
	if st, body := refreshStatus(t, issuerURL, a.Tokens.RefreshToken); st != 401 || !strings.Contains(body, "refresh_token_invalidated") {
		t.Fatalf("refresh after logout: %d %s", st, body)
	}
}

func runBin(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("codexauth %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestRealCodexAgentIdentity: an identity minted with `codexauth mint`
// logs the real codex in; it survives `codexauth keys rotate`; after
// `codexauth revoke agent-identity` codex is no longer logged in. Run with
// task ids in the clear and as sealed boxes (codex decrypts those with the
// X25519 key it derives from the identity's Ed25519 key).
func TestRealCodexAgentIdentity(t *testing.T) {
	bin := buildCodexauth(t)
	for name, extra := range map[string][]string{"clear task id": nil, "encrypted task id": {"--encrypt-task-ids"}} {
		t.Run(name, func(t *testing.T) { realCodexAgentIdentity(t, bin, extra) })
	}
}

func realCodexAgentIdentity(t *testing.T, bin string, extra []string) {
	codex := codexBin(t)
	const token = "agent-test-admin-token-01"
	issuerURL := serve(t, bin, append([]string{"--admin-token", token}, extra...)...)
	d := driver(t, codex, issuerURL)
	ctx := context.Background()
	out := runBin(t, bin, "mint", "agent-identity", "--issuer", issuerURL, "--admin-token", token, "--user", "alice", "--runtime-id", "rt-e2e")
	lines := strings.Split(out, "\n")
	jwt := lines[len(lines)-1]

	status := func(when string, want bool) {
		t.Helper()
		res, err := d.AgentLoginStatus(ctx, jwt)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(res.Output(), "Logged in using access token")
		if got != want {
			t.Fatalf("%s: logged in = %v, want %v\n%s", when, got, want, res)
		}
		t.Logf("%s: %s", when, lastNonEmpty(res.Output()))
	}
	status("after mint", true)
	tasks := adminGet(t, issuerURL, token, "/__admin/agent-identities")
	if !strings.Contains(tasks, `"runtime_id":"rt-e2e"`) || !strings.Contains(tasks, `"task_`) {
		t.Fatalf("the issuer recorded no task registration: %s", tasks)
	}
	t.Log(runBin(t, bin, "keys", "rotate", "--issuer", issuerURL, "--admin-token", token))
	status("after keys rotate", true)
	t.Log(runBin(t, bin, "revoke", "agent-identity", "--issuer", issuerURL, "--admin-token", token, "--runtime-id", "rt-e2e"))
	status("after revoke", false)
}

func lastNonEmpty(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func adminGet(t *testing.T, issuer, token, path string) string {
	req, _ := http.NewRequest("GET", issuer+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// TestRealCodexAcceptsMintedAuthJSON: `codexauth mint auth-json` writes a
// file the real codex takes as its own login, and codex refreshes it at
// the issuer named in its provenance.
func TestRealCodexAcceptsMintedAuthJSON(t *testing.T) {
	codex := codexBin(t)
	bin := buildCodexauth(t)
	const token = "authjson-admin-token-0123"
	issuerURL := serve(t, bin, "--admin-token", token, "--access-ttl", "240s", "--allow-short-access-ttl")
	d := driver(t, codex, issuerURL)
	out := runBin(t, bin, "mint", "auth-json", "--issuer", issuerURL, "--admin-token", token, "--user", "bob")
	if err := os.WriteFile(d.AuthPath(), []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := d.LoginStatus(ctx)
	if err != nil || !strings.Contains(res.Output(), "Logged in using ChatGPT") {
		t.Fatalf("codex does not take the minted auth.json: %v\n%s", err, res)
	}
	before, _ := d.ReadAuth()
	if res, err := d.FeaturesList(ctx); err != nil || res.ExitCode != 0 {
		t.Fatalf("features list: %v\n%s", err, res)
	}
	after, err := d.ReadAuth()
	if err != nil || after.Tokens.RefreshToken == before.Tokens.RefreshToken {
		t.Fatalf("codex did not refresh the minted login at the issuer: %v", err)
	}
}
