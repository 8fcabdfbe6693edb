package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/codexauth/codexauth/adminapi"
	"github.com/codexauth/codexauth/harness/wire"
)

// Capability is something a spec may need from a target.
type Capability string

// Capabilities. A spec that needs one the target lacks is reported "not
// run" with the reason, never passed.
const (
	CapAdmin         Capability = "admin-api"
	CapClock         Capability = "clock-control"
	CapFaults        Capability = "fault-injection"
	CapOutage        Capability = "outage-simulation"
	CapApprove       Capability = "device-approval"
	CapDeny          Capability = "device-denial"
	CapAuthorize     Capability = "browser-authorization"
	CapExpiry        Capability = "access-token-expiry"  // clock control, or a lifetime within --max-wait
	CapRefreshExpiry Capability = "refresh-token-expiry" // clock control
	CapAgentIdentity Capability = "agent-identity"
	CapValidate      Capability = "validate-endpoint"
	CapKeyRotation   Capability = "key-rotation"
	CapCodexCLI      Capability = "codex-cli"
	// CapCodexRefresh: codex decides on its own (real) clock, so putting it
	// inside its refresh window needs a short access-token lifetime: set
	// through the admin API, or declared and waited for within --max-wait.
	CapCodexRefresh Capability = "codex-refresh-window"
	// CapPAT: a personal access token, minted through the admin API or
	// given with --personal-access-token.
	CapPAT Capability = "personal-access-token"
	// CapWorkload: a workload identity token and its federation rule.
	CapWorkload Capability = "workload-identity"
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

func (t *Target) probe(ctx context.Context) error {
	t.caps = map[Capability]string{}
	no := func(c Capability, why string) { t.caps[c] = why }
	yes := func(c Capability) { t.caps[c] = "" }
	// Reachability first: a target that does not answer is a runtime error.
	ex := t.Client.Get(ctx, "/.well-known/openid-configuration", nil)
	if ex.Err != nil {
		return &RuntimeError{fmt.Errorf("issuer %s is unreachable: %v", t.Issuer, ex.Err)}
	}
	var state *AdminState
	if t.Cfg.AdminToken != "" {
		t.Admin = NewAdmin(t.Issuer, t.Cfg.AdminToken)
		s, err := t.Admin.State(ctx)
		if err != nil {
			return &RuntimeError{fmt.Errorf("--admin-token given but the admin API did not answer: %v", err)}
		}
		state = &s
		t.Version = s.Version
		yes(CapAdmin)
	} else {
		no(CapAdmin, "no --admin-token for this target")
	}
	has := func(name string) bool { return state != nil && slices.Contains(state.Capabilities, name) }
	for c, name := range map[Capability]string{CapClock: adminapi.CapClock, CapFaults: adminapi.CapFaults, CapOutage: adminapi.CapOutage, CapKeyRotation: adminapi.CapKeyRotation, CapCodexRefresh: adminapi.CapSettings} {
		if has(name) {
			yes(c)
		} else if state == nil {
			no(c, "needs the admin API (--admin-token)")
		} else {
			no(c, "the target's admin API does not offer "+name)
		}
	}
	if t.Cfg.Approver == "" && t.Admin != nil {
		t.Cfg.Approver = "admin"
	}
	switch t.Cfg.Approver {
	case "", "auto":
		t.Approver = AutoApprover{HTTP: t.Client.HTTP}
	case "admin":
		if t.Admin == nil {
			return errors.New("--approver admin needs --admin-token")
		}
		t.Approver = AdminApprover{Admin: t.Admin, User: t.Cfg.User}
	case "form":
		t.Approver = &FormApprover{Issuer: t.Issuer, User: t.Cfg.User, Password: t.Cfg.Password}
	case "exec":
		if len(t.Cfg.ApproverCommand) == 0 {
			return errors.New("--approver exec needs --approver-command")
		}
		t.Approver = ExecApprover{Command: t.Cfg.ApproverCommand, User: t.Cfg.User}
	default:
		return fmt.Errorf("--approver %q: use auto, admin, form or exec", t.Cfg.Approver)
	}
	for c, action := range map[Capability]string{CapApprove: "approve", CapDeny: "deny", CapAuthorize: "authorize"} {
		if t.Approver.Can(action) {
			yes(c)
		} else {
			no(c, fmt.Sprintf("the %s approver cannot %s (use --approver admin, form or exec)", t.Approver.Name(), action))
		}
	}
	if state != nil && state.AccessTTL > 0 && t.Cfg.AccessTTL == 0 {
		t.Cfg.AccessTTL = time.Duration(state.AccessTTL * float64(time.Second))
	}
	switch {
	case t.caps[CapClock] == "":
		yes(CapExpiry)
		yes(CapRefreshExpiry)
	case t.Cfg.AccessTTL > 0 && t.Cfg.AccessTTL-CodexWindow <= t.Cfg.MaxWait:
		yes(CapExpiry)
		no(CapRefreshExpiry, "needs clock control (admin API) to reach refresh-token expiry")
	default:
		reason := "needs clock control, or a declared --access-ttl whose wait into codex's 300 s window fits --max-wait"
		no(CapExpiry, reason)
		no(CapRefreshExpiry, "needs clock control (admin API) to reach refresh-token expiry")
	}
	if t.Admin != nil && has(adminapi.CapAgentMinting) || t.Cfg.AgentIdentity != "" {
		yes(CapAgentIdentity)
	} else {
		no(CapAgentIdentity, "needs --agent-identity FILE or the admin API to mint one")
	}
	if t.Admin != nil && has(adminapi.CapPATMinting) || t.Cfg.PersonalAccessToken != "" {
		yes(CapPAT)
	} else {
		no(CapPAT, "needs --personal-access-token FILE or the admin API to mint one")
	}
	if t.Admin != nil && has(adminapi.CapWorkloadMinting) || t.Cfg.WorkloadAssertion != "" && t.Cfg.FederationRuleID != "" {
		yes(CapWorkload)
	} else {
		no(CapWorkload, "needs --workload-assertion FILE and --federation-rule-id, or the admin API to mint them")
	}
	if t.Cfg.ValidateURL != "" && t.Cfg.InternalSecret != "" {
		yes(CapValidate)
	} else {
		no(CapValidate, "needs --validate-url and --internal-secret")
	}
	if t.caps[CapCodexRefresh] != "" && t.Cfg.AccessTTL > CodexWindow && t.Cfg.AccessTTL-CodexWindow+5*time.Second <= t.Cfg.MaxWait {
		yes(CapCodexRefresh)
	}
	if t.Cfg.CodexBin != "" {
		yes(CapCodexCLI)
	} else {
		no(CapCodexCLI, "no codex binary (run scripts/install-codex.sh or pass --codex-bin)")
	}
	return nil
}

// Missing returns why the target lacks c, or "" when it has it.
func (t *Target) Missing(c Capability) string {
	why, ok := t.caps[c]
	if !ok {
		return "unknown capability " + string(c)
	}
	return why
}

// Capabilities lists capability → reason-missing ("" when present).
func (t *Target) Capabilities() map[Capability]string { return t.caps }

// CodexWindow is codex's proactive-refresh window (§6.1).
const CodexWindow = 300 * time.Second

// ---- flows every spec builds on

// DeviceLogin runs the device flow to tokens: usercode, approval, polls
// until granted, exchange.
func (t *Target) DeviceLogin(ctx context.Context) (wire.Tokens, error) {
	d, ex := t.Client.RequestDeviceCode(ctx)
	if ex.Err != nil || ex.Status/100 != 2 || d.DeviceAuthID == "" || d.UserCode == "" {
		return wire.Tokens{}, fmt.Errorf("device code request: %s", ex)
	}
	if err := t.Approver.ApproveDevice(ctx, d.UserCode, t.Issuer+"/codex/device"); err != nil {
		return wire.Tokens{}, fmt.Errorf("approve %s: %w", d.UserCode, err)
	}
	g, err := t.PollGrant(ctx, d, time.Minute)
	if err != nil {
		return wire.Tokens{}, err
	}
	ex = t.Client.ExchangeCode(ctx, g.AuthorizationCode, t.Client.DeviceCallback(), g.CodeVerifier)
	if ex.Err != nil || ex.Status != 200 {
		return wire.Tokens{}, fmt.Errorf("device code exchange failed: %s", ex)
	}
	return wire.ParseTokens(ex)
}

// PollGrant polls until the code is granted, failing on any answer codex
// would not retry. Polls at most once a second (stricter than codex when
// the interval is longer: the issuer must keep answering pending).
func (t *Target) PollGrant(ctx context.Context, d wire.DeviceCode, timeout time.Duration) (wire.DeviceGrant, error) {
	deadline := time.Now().Add(timeout)
	for {
		ex := t.Client.DevicePoll(ctx, d)
		switch {
		case ex.Err != nil:
			return wire.DeviceGrant{}, fmt.Errorf("poll: %v", ex.Err)
		case ex.Status/100 == 2:
			return wire.ParseDeviceGrant(ex)
		case !wire.IsPending(ex.Status):
			return wire.DeviceGrant{}, fmt.Errorf("device auth failed with status %d: %s", ex.Status, ex)
		}
		if time.Now().After(deadline) {
			return wire.DeviceGrant{}, fmt.Errorf("still pending after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return wire.DeviceGrant{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// BrowserLogin runs authorize (through the approver) and the code exchange.
func (t *Target) BrowserLogin(ctx context.Context, redirectURI string) (wire.Tokens, error) {
	p := wire.NewPKCE()
	state := wire.NewState()
	loc, err := t.Approver.Authorize(ctx, t.Client.AuthorizeURL(redirectURI, p, state), redirectURI)
	if err != nil {
		return wire.Tokens{}, err
	}
	cb, err := wire.ParseCallback(loc, redirectURI)
	if err != nil {
		return wire.Tokens{}, err
	}
	if cb.Error != "" || cb.Code == "" {
		return wire.Tokens{}, fmt.Errorf("authorize answered error=%q %q", cb.Error, cb.ErrDesc)
	}
	ex := t.Client.ExchangeCode(ctx, cb.Code, redirectURI, p.Verifier)
	if ex.Err != nil || ex.Status != 200 {
		return wire.Tokens{}, fmt.Errorf("code exchange failed: %s", ex)
	}
	return wire.ParseTokens(ex)
}

// Login gets fresh tokens by the device flow.
func (t *Target) Login(ctx context.Context) (wire.Tokens, error) { return t.DeviceLogin(ctx) }

// IssuerNow is the target's current time: its clock when the admin API
// reports it, else ours.
func (t *Target) IssuerNow(ctx context.Context) time.Time {
	if t.Admin != nil {
		var c struct {
			Now time.Time `json:"now"`
		}
		if err := t.Admin.call(ctx, http.MethodGet, "/clock", nil, &c); err == nil && !c.Now.IsZero() {
			return c.Now
		}
	}
	return time.Now()
}

// Advance moves the target's time forward: by clock control, or by really
// waiting when that fits within MaxWait.
func (t *Target) Advance(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if t.caps[CapClock] == "" {
		return t.Admin.Advance(ctx, d)
	}
	if d > t.Cfg.MaxWait {
		return fmt.Errorf("would need to wait %s for real, more than --max-wait %s", d, t.Cfg.MaxWait)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// IntoRefreshWindow moves time until the access token expires within
// codex's 300 s window (200 s left, or 5 s short of expiry).
func (t *Target) IntoRefreshWindow(ctx context.Context, accessToken string) error {
	exp, err := wire.AccessExp(accessToken)
	if err != nil {
		return err
	}
	left := time.Unix(exp, 0).Sub(t.IssuerNow(ctx))
	target := 200 * time.Second
	if t.caps[CapClock] != "" {
		target = CodexWindow - 5*time.Second
	}
	return t.Advance(ctx, left-target)
}

// Caps reports whether the target has c.
func (t *Target) Caps(c Capability) bool { return t.Missing(c) == "" }

// RuntimeError is a failure to reach or start the target (as opposed to a
// configuration mistake): conform exits 3 for it.
type RuntimeError struct{ Err error }

func (e *RuntimeError) Error() string { return e.Err.Error() }
func (e *RuntimeError) Unwrap() error { return e.Err }
