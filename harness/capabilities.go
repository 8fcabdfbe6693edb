package harness

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

func (t *Target) probe(ctx context.Context) error {
	t.caps = map[Capability]string{}
	no := func(c Capability, why string) { t.caps[c] = why }
	yes := func(c Capability) { t.caps[c] = "" }
	// Reachability first: a target that does not answer is a runtime error.
	ex := t.Client.Get(ctx, "/.well-known/openid-configuration", nil)
	if ex.Err != nil {
		hint := ""
		var unknownCA x509.UnknownAuthorityError
		if errors.As(ex.Err, &unknownCA) {
			hint = " (if its certificate chains to a private CA, pass that CA's PEM file with --ca-cert)"
			if t.Cfg.CACert != "" {
				hint = " (nor to the CA of --ca-cert " + t.Cfg.CACert + ")"
			}
		}
		return &RuntimeError{fmt.Errorf("issuer %s is unreachable: %v%s", t.Issuer, ex.Err, hint)}
	}
	var state *AdminState
	if t.Cfg.AdminToken != "" {
		t.Admin = NewAdmin(t.Issuer, t.Cfg.AdminToken)
		t.Admin.c.HTTP.Transport, t.Admin.c.HTTP.Timeout = t.Client.HTTP.Transport, t.Client.HTTP.Timeout
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
		t.Approver = &FormApprover{Issuer: t.Issuer, User: t.Cfg.User, Password: t.Cfg.Password, Transport: t.Client.HTTP.Transport}
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
	t.judgeLifetimeCaps()
	if t.Admin != nil && has(adminapi.CapAgentMinting) || len(t.Cfg.AgentIdentities) > 0 {
		yes(CapAgentIdentity)
	} else {
		no(CapAgentIdentity, "needs --agent-identity FILE (repeatable) or the admin API to mint one")
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

// LifetimeUnknown is the reason of the capabilities that depend on the
// access-token lifetime before a token has been seen; a spec that needs one
// calls ObserveAccessTTL, which reads the lifetime off a real token.
const LifetimeUnknown = "the access-token lifetime is not known yet"

// judgeLifetimeCaps decides the capabilities that waiting for real expiry
// can provide: with clock control all of them; otherwise the access token's
// own exp decides, when the wait into codex's window fits --max-wait.
func (t *Target) judgeLifetimeCaps() {
	no := func(c Capability, why string) { t.caps[c] = why }
	yes := func(c Capability) { t.caps[c] = "" }
	if t.caps[CapClock] == "" {
		yes(CapExpiry)
		yes(CapRefreshExpiry)
		return
	}
	no(CapRefreshExpiry, "needs clock control (admin API) to reach refresh-token expiry")
	ttl := t.Cfg.AccessTTL
	switch {
	case ttl == 0:
		no(CapExpiry, LifetimeUnknown)
		if t.caps[CapCodexRefresh] != "" {
			no(CapCodexRefresh, LifetimeUnknown)
		}
	case ttl-CodexWindow <= t.Cfg.MaxWait:
		yes(CapExpiry)
		if t.caps[CapCodexRefresh] != "" && ttl > CodexWindow && ttl-CodexWindow+5*time.Second <= t.Cfg.MaxWait {
			yes(CapCodexRefresh)
		}
	default:
		why := fmt.Sprintf("needs clock control, or an access-token lifetime whose wait into codex's 300 s window fits --max-wait (this target's tokens live %s: the wait would be %s, --max-wait is %s)",
			ttl, ttl-CodexWindow, t.Cfg.MaxWait)
		no(CapExpiry, why)
		if t.caps[CapCodexRefresh] != "" {
			no(CapCodexRefresh, why)
		}
	}
}

// ErrNoAccessExp means the access token's lifetime cannot be read off it.
var ErrNoAccessExp = errors.New("no readable access-token lifetime")

// ObserveAccessTTL reads the access-token lifetime off a fresh token (exp
// minus iat) when none was declared, and judges the capabilities that
// depend on it again.
func (t *Target) ObserveAccessTTL(ctx context.Context) error {
	if t.Cfg.AccessTTL > 0 {
		return nil
	}
	toks, err := t.Login(ctx)
	if err != nil {
		return err
	}
	claims, err := wire.DecodeJWTPayload(toks.AccessToken)
	if err != nil {
		return fmt.Errorf("%w: the access token is not a JWT codex can read: %v", ErrNoAccessExp, err)
	}
	exp, err1 := claims["exp"].(json.Number).Int64()
	iat, err2 := claims["iat"].(json.Number).Int64()
	if err1 != nil || err2 != nil || exp <= iat {
		return fmt.Errorf("%w: the access token has no integer iat and exp", ErrNoAccessExp)
	}
	t.Cfg.AccessTTL = time.Duration(exp-iat) * time.Second
	t.judgeLifetimeCaps()
	return nil
}
