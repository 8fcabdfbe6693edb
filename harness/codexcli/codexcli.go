// Package codexcli drives the real OpenAI Codex CLI binary against an
// issuer, in an isolated CODEX_HOME, with every escape route closed: the
// refresh and revoke endpoints are overridden to the issuer under test and
// all other traffic goes through a local proxy that refuses it.
package codexcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
)

// Version is the pinned codex release: the one the contract describes, the
// wire client replays and scripts/test.sh runs. Other releases run as data
// (see versions.go).
const Version = "0.169.0"

// BinEnv names the variable that points at a codex binary.
const BinEnv = "CODEXAUTH_CODEX_BIN"

// CacheDir is where scripts/install-codex.sh installs codex.
func CacheDir() string {
	if d := os.Getenv("CODEXAUTH_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "codexauth")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "codexauth")
}

// Find locates the codex binary: explicit path, CODEXAUTH_CODEX_BIN, then
// the pinned version in the install cache (FindVersion finds another).
func Find(explicit string) (string, error) {
	for _, c := range []string{explicit, os.Getenv(BinEnv)} {
		if c != "" {
			if st, err := os.Stat(c); err != nil || st.IsDir() {
				return "", fmt.Errorf("codex binary %q: not a file", c)
			}
			return c, nil
		}
	}
	if bin, err := FindVersion(Version); err == nil {
		return bin, nil
	}
	return "", fmt.Errorf("codex %s not found: run scripts/install-codex.sh, or set %s / --codex-bin", Version, BinEnv)
}

// Install runs scripts/install-codex.sh from the repository root and
// returns the binary it printed.
func Install(ctx context.Context, repoRoot string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, "scripts", "install-codex.sh"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("install-codex.sh: %v\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// Driver runs codex commands against one issuer in one CODEX_HOME.
type Driver struct {
	Bin string
	// Version is what Bin reports (`codex --version`), "" when it would not
	// say; every Result names it.
	Version string
	Issuer  string // base URL, no trailing slash
	Home    string
	// ProxyURL receives all proxied traffic (a refusing guard by default).
	ProxyURL string
	// Extra environment (KEY=VALUE) for every run.
	Env []string
	// Timeout bounds each command (default 60 s).
	Timeout time.Duration
	// Endpoints are where codex's knobs point (refresh and revoke URLs, the
	// auth API, chatgpt_base_url); New sets the defaults under Issuer.
	Endpoints wire.Endpoints
	// CACert is a PEM file codex trusts in addition to the system roots
	// (CODEX_CA_CERTIFICATE): a deployment behind a private CA.
	CACert string
	// Observe, when set, receives every finished run with auth.json as it
	// was before and after it (raw: the observer masks).
	Observe func(r Result, authBefore, authAfter string)
}

// authSnapshot is auth.json's content now ("" when there is none).
func (d *Driver) authSnapshot() string {
	if d.Observe == nil {
		return ""
	}
	b, err := os.ReadFile(d.AuthPath())
	if err != nil {
		return ""
	}
	return string(b)
}

func (d *Driver) observe(r Result, authBefore string) {
	if d.Observe != nil {
		d.Observe(r, authBefore, d.authSnapshot())
	}
}

// New prepares a driver with a fresh CODEX_HOME under dir.
func New(bin, issuer, dir, proxyURL string) (*Driver, error) {
	home := filepath.Join(dir, "codex-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	v, _ := BinaryVersion(context.Background(), bin) // a binary that cannot say is still run: its failures speak
	return &Driver{Bin: bin, Version: v, Issuer: strings.TrimRight(issuer, "/"), Home: home, ProxyURL: proxyURL, Timeout: 60 * time.Second,
		Endpoints: wire.DefaultEndpoints(issuer)}, nil
}

// Result is one codex invocation.
type Result struct {
	// Version is the codex version that ran.
	Version  string
	Args     []string
	ExitCode int
	Stdout   string
	Stderr   string
	Duration time.Duration
}

// Output is stdout and stderr together, ANSI colours removed.
func (r Result) Output() string { return StripANSI(r.Stdout + r.Stderr) }

// String puts what codex said that matters first (see ErrorLine), then the
// whole output.
func (r Result) String() string {
	line := ErrorLine(r.Output())
	if line != "" {
		line = ": " + line
	}
	name := "codex"
	if r.Version != "" {
		name += " " + r.Version
	}
	return fmt.Sprintf("%s %s: exit %d after %s%s\n%s", name, strings.Join(r.Args, " "), r.ExitCode, r.Duration.Round(time.Millisecond), line, r.Output())
}

// noise are lines codex prints that never explain an outcome: its attempt
// to update PATH in a read-only or throwaway HOME, and log-level chatter.
var noise = regexp.MustCompile(`(?i)^(WARNING: proceeding, even though we could not update PATH|WARNING: .*PATH|\d{4}-\d\d-\d\dT\S+\s+(INFO|DEBUG|TRACE))`)

// ErrorLine is the line of codex's output that explains its outcome: the
// last line that says "error" or "failed", else the last line that is not
// noise.
func ErrorLine(output string) string {
	var last, errLine string
	for _, l := range strings.Split(StripANSI(output), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || noise.MatchString(l) {
			continue
		}
		last = l
		if low := strings.ToLower(l); strings.Contains(low, "error") || strings.Contains(low, "failed") {
			errLine = l
		}
	}
	if errLine == "" {
		errLine = last
	}
	if len(errLine) > 240 {
		errLine = errLine[:240] + "…"
	}
	return errLine
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// StripANSI removes terminal colour codes.
func StripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

// env is the complete environment of a run: nothing of the caller's
// credentials leaks in, and nothing can leave the machine.
func (d *Driver) env() []string {
	// Only the issuer and the hosts codex's knobs point at are reached
	// directly; everything else goes to the refusing proxy.
	noProxy := "127.0.0.1,localhost,::1"
	for _, raw := range []string{d.Issuer, d.Endpoints.RefreshURL, d.Endpoints.RevokeURL, d.Endpoints.AuthAPIBase, d.Endpoints.ChatGPTBase} {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" && !strings.Contains(noProxy, u.Hostname()) {
			noProxy += "," + u.Hostname()
		}
	}
	env := []string{
		"CODEX_HOME=" + d.Home,
		"HOME=" + filepath.Dir(d.Home),
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + filepath.Dir(d.Home),
		"CODEX_REFRESH_TOKEN_URL_OVERRIDE=" + d.Endpoints.RefreshURL,
		"CODEX_REVOKE_TOKEN_URL_OVERRIDE=" + d.Endpoints.RevokeURL,
		"CODEX_AUTHAPI_BASE_URL=" + d.Endpoints.AuthAPIBase,
		"NO_PROXY=" + noProxy, "no_proxy=" + noProxy,
		"BROWSER=/bin/true", "NO_COLOR=1", "TERM=dumb", "RUST_LOG=error",
	}
	if d.CACert != "" && !slices.ContainsFunc(d.Env, func(kv string) bool { return strings.HasPrefix(kv, "CODEX_CA_CERTIFICATE=") }) {
		env = append(env, "CODEX_CA_CERTIFICATE="+d.CACert)
	}
	if d.ProxyURL != "" {
		for _, k := range []string{"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"} {
			env = append(env, k+"="+d.ProxyURL)
		}
	}
	return append(env, d.Env...)
}

// Run executes codex with args.
func (d *Driver) Run(ctx context.Context, args ...string) (Result, error) {
	return d.runStdin(ctx, "", args...)
}

func (d *Driver) runStdin(ctx context.Context, stdin string, args ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Bin, args...)
	cmd.Env = d.env()
	cmd.Dir = filepath.Dir(d.Home)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	before := d.authSnapshot()
	err := cmd.Run()
	res := Result{Version: d.Version, Args: args, Stdout: out.String(), Stderr: errb.String(), Duration: time.Since(start)}
	defer func() { d.observe(res, before) }()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case ctx.Err() != nil:
		return res, fmt.Errorf("codex %s: timed out after %s", strings.Join(args, " "), d.Timeout)
	default:
		return res, fmt.Errorf("run codex: %w", err)
	}
	return res, nil
}

// DeviceLogin runs `codex login --device-auth --experimental_issuer`.
func (d *Driver) DeviceLogin(ctx context.Context, extra ...string) (Result, error) {
	return d.Run(ctx, append([]string{"login", "--device-auth", "--experimental_issuer", d.Issuer}, extra...)...)
}

// FeaturesList is codex's cheapest auth-loading command: it refreshes when
// the access token expires within 300 s and sends nothing else.
func (d *Driver) FeaturesList(ctx context.Context) (Result, error) {
	return d.Run(ctx, "features", "list")
}

// Logout runs `codex logout` (revoke, then delete auth.json).
func (d *Driver) Logout(ctx context.Context) (Result, error) { return d.Run(ctx, "logout") }

// LoginStatus runs `codex login status` (never refreshes).
func (d *Driver) LoginStatus(ctx context.Context) (Result, error) {
	return d.Run(ctx, "login", "status")
}

// AuthFile is auth.json as codex writes it (contract §10; the fields of
// 0.169.0, which 0.166.0 to 0.171.0 all write).
type AuthFile struct {
	AuthMode     string  `json:"auth_mode"`
	OpenAIAPIKey *string `json:"OPENAI_API_KEY"`
	Tokens       *struct {
		IDToken         string  `json:"id_token"`
		AccessToken     string  `json:"access_token"`
		RefreshToken    string  `json:"refresh_token"`
		AccountID       *string `json:"account_id"`
		LoginOwnerID    string  `json:"login_owner_id"`
		OAuthProvenance *struct {
			Issuer   string `json:"issuer"`
			ClientID string `json:"client_id"`
		} `json:"oauth_provenance"`
	} `json:"tokens"`
	LastRefresh         string `json:"last_refresh"`
	AgentIdentity       string `json:"agent_identity"`
	PersonalAccessToken string `json:"personal_access_token"`
}

// AuthPath is the auth.json path.
func (d *Driver) AuthPath() string { return filepath.Join(d.Home, "auth.json") }

// ReadAuth parses auth.json; os.ErrNotExist when there is none.
func (d *Driver) ReadAuth() (AuthFile, error) {
	var a AuthFile
	b, err := os.ReadFile(d.AuthPath())
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("auth.json: %w", err)
	}
	return a, nil
}

func urlUnescape(s string) (string, error) { return url.QueryUnescape(s) }

func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// AgentLoginStatus runs `codex login status` authenticated by an agent
// identity JWT (CODEX_ACCESS_TOKEN), with the JWKS, the auth API and
// chatgpt_base_url all pointed at the issuer (contract §8.1: the JWKS base
// must equal chatgpt_base_url for a non-production backend).
func (d *Driver) AgentLoginStatus(ctx context.Context, agentJWT string) (Result, error) {
	saved := d.Env
	defer func() { d.Env = saved }()
	d.Env = append(append([]string(nil), d.Env...),
		"CODEX_ACCESS_TOKEN="+agentJWT,
		"CODEX_AGENT_IDENTITY_JWKS_BASE_URL="+d.Endpoints.ChatGPTBase,
		"CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL="+d.Endpoints.AuthAPIBase)
	return d.Run(ctx, "-c", `chatgpt_base_url="`+d.Endpoints.ChatGPTBase+`"`, "login", "status")
}

// PATLogin runs `codex login --with-access-token` with token on stdin
// (personal access tokens, contract §9.1; CODEX_AUTHAPI_BASE_URL points at
// the issuer).
func (d *Driver) PATLogin(ctx context.Context, token string) (Result, error) {
	return d.runStdin(ctx, token, "login", "--with-access-token")
}

// WorkloadLoginStatus runs `codex login status` under workload identity
// federation (contract §9.2): OPENAI_FEDERATION_RULE_ID and an absolute
// OPENAI_IDENTITY_TOKEN_FILE. codex has no URL override for this exchange,
// so auth.openai.com goes through the guard's TLS interception to the issuer.
func (d *Driver) WorkloadLoginStatus(ctx context.Context, guard *Guard, ruleID, assertion string) (Result, error) {
	ca, err := d.interceptAuthOpenAI(guard)
	if err != nil {
		return Result{}, err
	}
	dir := filepath.Dir(d.Home)
	tokenFile, err := filepath.Abs(filepath.Join(dir, "workload-identity.jwt"))
	if err != nil {
		return Result{}, err
	}
	if err := os.WriteFile(tokenFile, []byte(assertion), 0o600); err != nil {
		return Result{}, err
	}
	saved := d.Env
	defer func() { d.Env = saved }()
	d.Env = append(append([]string(nil), d.Env...), "CODEX_CA_CERTIFICATE="+ca,
		"OPENAI_FEDERATION_RULE_ID="+ruleID, "OPENAI_IDENTITY_TOKEN_FILE="+tokenFile)
	return d.Run(ctx, "login", "status")
}

// interceptAuthOpenAI routes codex's https://auth.openai.com through the
// guard to the issuer and returns the CA file codex must then trust: the
// guard's throwaway CA, bundled with the deployment's own private CA
// (CACert) when there is one — CODEX_CA_CERTIFICATE names a single file.
func (d *Driver) interceptAuthOpenAI(guard *Guard) (string, error) {
	if err := guard.Intercept("auth.openai.com", d.Issuer, d.CACert); err != nil {
		return "", err
	}
	dir := filepath.Dir(d.Home)
	ca, err := guard.WriteCA(dir)
	if err != nil || d.CACert == "" {
		return ca, err
	}
	guardCA, err := os.ReadFile(ca)
	if err != nil {
		return "", err
	}
	own, err := os.ReadFile(d.CACert)
	if err != nil {
		return "", fmt.Errorf("CA certificate: %w", err)
	}
	bundle := filepath.Join(dir, "codexauth-ca-bundle.pem")
	if err := os.WriteFile(bundle, append(append(guardCA, '\n'), own...), 0o600); err != nil {
		return "", err
	}
	return bundle, nil
}
