package harness

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/codexauth/codexauth/harness/evidence"
	"github.com/codexauth/codexauth/harness/wire"
)

// Config says which issuer to test and how.
type Config struct {
	// Issuer is the base URL; empty means the built-in reference issuer.
	Issuer   string
	ClientID string
	// AdminToken enables the admin capabilities of a target that has them.
	AdminToken string
	// Approver is auto, admin, form or exec (default: admin when an admin
	// token is known, else auto).
	Approver        string
	ApproverCommand []string
	User, Password  string
	// MaxWait bounds real waiting for expiry on targets without clock control.
	MaxWait time.Duration
	// AccessTTL declares the target's access-token lifetime (0: read it).
	AccessTTL time.Duration
	// ValidateURL and InternalSecret reach a gateway validate endpoint.
	ValidateURL, InternalSecret string
	// AgentIdentities are agent identity JWTs minted by the deployment (with
	// their private keys); specs that need two agents need two.
	AgentIdentities []string
	// PersonalAccessToken is an "at-…" token of the deployment.
	PersonalAccessToken string
	// WorkloadAssertion and FederationRuleID come from the deployment's
	// workload identity provider.
	WorkloadAssertion, FederationRuleID string
	// CodexBin is the real codex binary ("" disables the codex-cli profile).
	CodexBin string
	// CodexVersion is the codex release the run speaks for: the version
	// CodexBin reports (`codex --version`), or the one named without a
	// binary ("": the pinned release). The wire client speaks its dialect.
	CodexVersion string
	// Builtin starts the built-in reference issuer when neither Issuer nor
	// Docker is given. The harness never imports the issuer: cmd/ wires
	// issuer/issuertest in (nil: no built-in target in this binary).
	Builtin StartBuiltin
	// BuiltinFaults are switched on in the built-in issuer (self-test).
	BuiltinFaults []string
	// BuiltinReuseGrace configures the built-in issuer's grace window.
	BuiltinReuseGrace time.Duration
	// Docker, when its Image is set, starts the issuer from an image.
	Docker DockerTarget
	// Endpoints override where codex's knobs point (CODEX_REFRESH_TOKEN_URL_OVERRIDE,
	// CODEX_REVOKE_TOKEN_URL_OVERRIDE, the auth API base, chatgpt_base_url);
	// empty fields default as codex derives them from the issuer URL.
	Endpoints wire.Endpoints
	// CACert is a PEM file of a private CA the deployment's certificates
	// chain to; the suite and the real codex trust it.
	CACert string
	// RequestTimeout bounds each request to the target, headers and body
	// (0: wire.DefaultRequestTimeout).
	RequestTimeout time.Duration
}

// Target is an issuer under test.
type Target struct {
	Cfg      Config
	Issuer   string
	Name     string
	Version  string
	Client   *wire.Client
	Admin    *Admin
	Approver Approver
	// Log receives notes on how the target was handled (nil: dropped).
	Log func(format string, args ...any)
	// Evidence records every exchange with the target (and every run of the
	// real codex the specs report to it), secrets masked.
	Evidence *evidence.Recorder

	caps  map[Capability]string // capability → "" if present, else why not
	close func()
	// Sign-in pacing (see DeviceLogin).
	spaceSignIns       bool
	lastExchange       time.Time
	lastExchangeStatus int
	// waited is real time spent waiting for expiry (see TakeWaited).
	waited time.Duration
	// The refresh encoding the target accepts (see RefreshEncoding).
	refreshEnc    wire.Encoding
	refreshEncErr error
}

// BuiltinOptions configure the built-in reference issuer.
type BuiltinOptions struct {
	// Faults of the issuer's catalogue to switch on (the self-test).
	Faults []string
	// ReuseGrace is the issuer's reuse grace window.
	ReuseGrace time.Duration
}

// BuiltinIssuer is a running built-in issuer as the harness sees it: a URL
// and the credentials of its admin API and validate endpoint.
type BuiltinIssuer struct {
	URL, Name, Version          string
	AdminToken                  string
	ValidateURL, InternalSecret string
	Close                       func()
}

// StartBuiltin starts the built-in reference issuer on loopback.
type StartBuiltin func(ctx context.Context, o BuiltinOptions) (BuiltinIssuer, error)

// Open prepares the target: starts the built-in issuer when no URL is
// given, probes the admin API, and works out capabilities.
func Open(ctx context.Context, cfg Config) (*Target, error) {
	if cfg.User == "" {
		cfg.User = "alice"
	}
	if cfg.ClientID == "" {
		cfg.ClientID = wire.CodexClientID
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 10 * time.Second
	}
	t := &Target{Cfg: cfg, close: func() {}}
	if cfg.Docker.Image != "" {
		if cfg.Issuer != "" {
			return nil, fmt.Errorf("give --issuer or --docker-image, not both")
		}
		if err := t.startDocker(ctx, cfg.Docker); err != nil {
			return nil, err
		}
	} else if cfg.Issuer == "" {
		if err := t.startBuiltin(ctx); err != nil {
			return nil, err
		}
	} else {
		u, err := url.Parse(cfg.Issuer)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--issuer %q must be an absolute http(s) URL", cfg.Issuer)
		}
		t.Issuer = strings.TrimRight(cfg.Issuer, "/")
		t.Name = t.Issuer
	}
	t.Client = wire.NewClient(t.Issuer, t.Cfg.ClientID)
	if t.Cfg.RequestTimeout > 0 {
		t.Client.HTTP.Timeout = t.Cfg.RequestTimeout
	}
	t.Client.Dialect = wire.DialectOf(t.Cfg.CodexVersion) // the suite speaks as the codex it speaks for
	if err := t.applyEndpoints(); err != nil {
		t.Close()
		return nil, err
	}
	if t.Cfg.CACert != "" {
		if err := t.Client.TrustCA(t.Cfg.CACert); err != nil {
			t.Close()
			return nil, fmt.Errorf("--ca-cert: %w", err)
		}
	}
	t.Evidence = evidence.NewRecorder()
	t.Client.HTTP.Transport = t.Evidence.Transport(t.Client.HTTP.Transport)
	for kind, v := range map[string]string{"admin_token": t.Cfg.AdminToken, "internal_secret": t.Cfg.InternalSecret,
		"personal_access_token": t.Cfg.PersonalAccessToken, "workload_assertion": t.Cfg.WorkloadAssertion, "password": t.Cfg.Password} {
		if v != "" {
			t.Evidence.Masker.Register(kind, v)
		}
	}
	for _, a := range t.Cfg.AgentIdentities {
		t.Evidence.Masker.Register("agent_identity", a)
	}
	if err := t.probe(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Close stops the built-in issuer, if any.
func (t *Target) Close() { t.close() }

func (t *Target) startBuiltin(ctx context.Context) error {
	if t.Cfg.Builtin == nil {
		return errors.New("this program has no built-in issuer: give --issuer URL or --docker-image")
	}
	b, err := t.Cfg.Builtin(ctx, BuiltinOptions{Faults: t.Cfg.BuiltinFaults, ReuseGrace: t.Cfg.BuiltinReuseGrace})
	if err != nil {
		return fmt.Errorf("built-in issuer: %w", err)
	}
	t.Issuer, t.Name, t.Version = b.URL, b.Name, b.Version
	t.Cfg.AdminToken = b.AdminToken
	if t.Cfg.ValidateURL == "" {
		t.Cfg.ValidateURL, t.Cfg.InternalSecret = b.ValidateURL, b.InternalSecret
	}
	if t.Cfg.Approver == "" {
		t.Cfg.Approver = "admin"
	}
	t.close = b.Close
	return nil
}

// RuntimeError is a failure to reach or start the target (as opposed to a
// configuration mistake): conform exits 3 for it.
type RuntimeError struct{ Err error }

func (e *RuntimeError) Error() string { return e.Err.Error() }
func (e *RuntimeError) Unwrap() error { return e.Err }

// applyEndpoints sets the client's knobs from the configuration: each given
// one must be an absolute http(s) URL; the others keep codex's defaults.
func (t *Target) applyEndpoints() error {
	e := &t.Client.Endpoints
	for _, o := range []struct {
		flag, v string
		dst     *string
	}{
		{"--refresh-url", t.Cfg.Endpoints.RefreshURL, &e.RefreshURL},
		{"--revoke-url", t.Cfg.Endpoints.RevokeURL, &e.RevokeURL},
		{"--authapi-base-url", t.Cfg.Endpoints.AuthAPIBase, &e.AuthAPIBase},
		{"--chatgpt-base-url", t.Cfg.Endpoints.ChatGPTBase, &e.ChatGPTBase},
	} {
		if o.v == "" {
			continue
		}
		u, err := url.Parse(o.v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s %q must be an absolute http(s) URL", o.flag, o.v)
		}
		*o.dst = strings.TrimRight(o.v, "/")
	}
	t.Cfg.Endpoints = *e
	return nil
}
