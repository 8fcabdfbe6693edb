package harness

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

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
	// wire.AgentIdentity is an agent identity JWT minted by the deployment.
	AgentIdentity string
	// PersonalAccessToken is an "at-…" token of the deployment.
	PersonalAccessToken string
	// WorkloadAssertion and FederationRuleID come from the deployment's
	// workload identity provider.
	WorkloadAssertion, FederationRuleID string
	// CodexBin is the real codex binary ("" disables the codex-cli profile).
	CodexBin string
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
	caps     map[Capability]string // capability → "" if present, else why not
	close    func()
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
