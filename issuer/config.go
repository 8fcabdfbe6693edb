package issuer

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/store"
)

// CodexClientID is the production client id codex sends (contract §0).
const CodexClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// CodexProactiveWindow is how far ahead of access-token expiry codex
// refreshes (contract §6.1): a lifetime at or below it makes codex refresh
// on every command.
const CodexProactiveWindow = 300 * time.Second

// Config configures a Server. Zero durations take the defaults below.
type Config struct {
	// PublicURL is the issuer base URL as clients reach it, possibly with a
	// path prefix. Every absolute URL the issuer emits derives from it.
	PublicURL string
	Store     store.Store
	// Clock defaults to an adjustable wall clock (the admin API moves it).
	Clock  clock.Clock
	Logger *slog.Logger

	AccessTTL  time.Duration // default 1h; must exceed CodexProactiveWindow unless AllowShortAccessTTL
	IDTokenTTL time.Duration // default 1h
	RefreshTTL time.Duration // default 30 days, sliding with each rotation
	// ReuseGrace is how long a rotated-out refresh token still yields its
	// (same) child instead of counting as reuse. 0 disables it.
	ReuseGrace          time.Duration
	AuthCodeTTL         time.Duration // default 2m
	DeviceCodeTTL       time.Duration // default 15m, codex's own polling limit
	DeviceInterval      int           // seconds, default 5
	SessionTTL          time.Duration // default 12h
	AllowShortAccessTTL bool

	// ClientIDs are the registered public clients (default: codex's).
	ClientIDs []string
	// RedirectURIs are registered in addition to codex's loopback callbacks.
	RedirectURIs []string
	// AutoApproveUser, when set, approves device codes for that user at
	// their second poll (the first is answered pending, as a person
	// approving in a browser would look to codex) and signs the user in at /oauth/authorize (mock mode).
	AutoApproveUser string
	// AdminToken enables /__admin when non-empty, and the console at "/"
	// for whoever presents it.
	AdminToken string
	// LoopbackOnly says the issuer listens on loopback addresses only
	// (codexauth serve sets it from --addr). Without an AdminToken the
	// console at "/" is then open to clients on this machine (mock mode);
	// with neither, it does not exist.
	LoopbackOnly bool
	// NoConsole turns the console, and the request recording behind it,
	// off wherever it would exist.
	NoConsole bool
	// InternalSecret enables /internal/codex-auth/validate when non-empty.
	InternalSecret string
	// KeyPassphrase encrypts signing keys at rest when non-empty.
	KeyPassphrase string
	// WorkspaceOrigin is what /backend-api/wham/accounts/check reports as
	// workspace_backend_origin (codex requires https). Default: the public
	// URL's origin with the https scheme.
	WorkspaceOrigin string
	// EncryptTaskIDs answers task registrations with encrypted_task_id (a
	// sealed box to the agent's key) instead of task_id.
	EncryptTaskIDs bool
	Faults         *faults.Set
	Version        string
	// GCInterval is how often expired rows are collected (default 5m; <0 off).
	GCInterval time.Duration
	// TokenConcurrency is how many token-endpoint requests run at once; the
	// rest wait in arrival order (cpuqueue.go). Default: GOMAXPROCS.
	TokenConcurrency int
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AccessTTL, time.Hour)
	def(&c.IDTokenTTL, time.Hour)
	def(&c.RefreshTTL, 30*24*time.Hour)
	def(&c.AuthCodeTTL, 2*time.Minute)
	def(&c.DeviceCodeTTL, 15*time.Minute)
	def(&c.SessionTTL, 12*time.Hour)
	def(&c.GCInterval, 5*time.Minute)
	if c.TokenConcurrency <= 0 {
		c.TokenConcurrency = runtime.GOMAXPROCS(0)
	}
	if c.DeviceInterval == 0 && c.AutoApproveUser != "" {
		// codex polls at once, then sleeps interval seconds: with the first
		// poll answered pending (see handleDeviceToken), a mock login takes
		// about one interval.
		c.DeviceInterval = 1
	}
	if c.DeviceInterval == 0 {
		c.DeviceInterval = 5
	}
	if len(c.ClientIDs) == 0 {
		c.ClientIDs = []string{CodexClientID}
	}
	if c.Clock == nil {
		c.Clock = clock.NewAdjustable(nil)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Faults == nil {
		c.Faults = &faults.Set{}
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// ConfigError is a configuration mistake (as opposed to a failure to reach
// the store or prepare keys): callers report it as bad usage.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Validate reports configuration errors precisely, as a *ConfigError.
func (c *Config) Validate() error {
	if err := c.validate(); err != nil {
		return &ConfigError{Err: err}
	}
	return nil
}

func (c *Config) validate() error {
	var errs []error
	u, err := url.Parse(c.PublicURL)
	switch {
	case c.PublicURL == "":
		errs = append(errs, errors.New("public URL is required"))
	case err != nil:
		errs = append(errs, fmt.Errorf("public URL %q: %w", c.PublicURL, err))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		errs = append(errs, fmt.Errorf("public URL %q must be an absolute http(s) URL", c.PublicURL))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, fmt.Errorf("public URL %q must not carry a query or fragment", c.PublicURL))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("a store is required"))
	}
	if c.AccessTTL <= CodexProactiveWindow && !c.AllowShortAccessTTL {
		errs = append(errs, fmt.Errorf("access-token lifetime %s is at or below codex's %s proactive-refresh window: codex would refresh before every command; use more than %s, or allow short lifetimes explicitly for testing",
			c.AccessTTL, CodexProactiveWindow, CodexProactiveWindow))
	}
	if c.AccessTTL < 0 || c.RefreshTTL < 0 || c.ReuseGrace < 0 || c.IDTokenTTL < 0 {
		errs = append(errs, errors.New("lifetimes and the reuse grace must not be negative"))
	}
	if c.RefreshTTL > 0 && c.RefreshTTL < c.AccessTTL {
		errs = append(errs, fmt.Errorf("refresh-token lifetime %s is shorter than the access-token lifetime %s", c.RefreshTTL, c.AccessTTL))
	}
	if c.DeviceInterval < 0 {
		errs = append(errs, errors.New("device interval must not be negative"))
	}
	for _, r := range c.RedirectURIs {
		ru, err := url.Parse(r)
		if err != nil || !ru.IsAbs() || ru.Fragment != "" {
			errs = append(errs, fmt.Errorf("redirect URI %q must be absolute without a fragment", r))
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		errs = append(errs, errors.New("admin token must be at least 16 characters"))
	}
	if c.InternalSecret != "" && len(c.InternalSecret) < 16 {
		errs = append(errs, errors.New("internal secret must be at least 16 characters"))
	}
	return errors.Join(errs...)
}
