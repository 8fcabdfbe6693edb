package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/codexauth/codexauth/adminapi"
	"github.com/codexauth/codexauth/harness/wire"
)

// Admin talks to the reference issuer's /__admin API (or any issuer that
// implements it): the capabilities that turn exp-driven and fault specs
// from waits into milliseconds.
type Admin struct {
	c     *wire.Client
	token string
}

// NewAdmin returns an admin client for issuer.
func NewAdmin(issuer, token string) *Admin {
	c := wire.NewClient(issuer, "")
	c.Dialect = wire.Dialect{AcceptEncoding: "gzip,zstd"} // the admin API is the harness's, not codex's: any coding Go can read
	return &Admin{c: c, token: token}
}

func (a *Admin) call(ctx context.Context, method, path string, in, out any) error {
	body := ""
	if in != nil {
		b, _ := json.Marshal(in)
		body = string(b)
	}
	ex := a.c.Do(ctx, method, a.c.Issuer+adminapi.PathPrefix+path, "application/json", body, map[string]string{"Authorization": "Bearer " + a.token})
	if ex.Err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, ex.Err)
	}
	if ex.Status/100 != 2 {
		return fmt.Errorf("admin %s %s: %d %s", method, path, ex.Status, strings.TrimSpace(string(ex.Body)))
	}
	if out != nil && len(ex.Body) > 0 {
		if err := json.Unmarshal(ex.Body, out); err != nil {
			return fmt.Errorf("admin %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// AdminState is GET /__admin/state.
type AdminState = adminapi.State

// Issuer is the base URL the admin client talks to.
func (a *Admin) Issuer() string { return a.c.Issuer }

// State reads the issuer's state summary.
func (a *Admin) State(ctx context.Context) (AdminState, error) {
	var s AdminState
	err := a.call(ctx, http.MethodGet, "/state", nil, &s)
	return s, err
}

// Advance moves the issuer clock forward.
func (a *Admin) Advance(ctx context.Context, d time.Duration) error {
	return a.call(ctx, http.MethodPost, "/clock/advance", adminapi.ClockAdvance{Seconds: d.Seconds()}, nil)
}

// SetFaults replaces the set of enabled faults.
func (a *Admin) SetFaults(ctx context.Context, names []string) error {
	if names == nil {
		names = []string{}
	}
	return a.call(ctx, http.MethodPut, "/faults", adminapi.Faults{Enabled: names}, nil)
}

// ApproveDevice approves a user code for user.
func (a *Admin) ApproveDevice(ctx context.Context, userCode, user string) error {
	return a.call(ctx, http.MethodPost, "/device/approve", adminapi.DeviceDecision{UserCode: userCode, User: user}, nil)
}

// DenyDevice denies a user code.
func (a *Admin) DenyDevice(ctx context.Context, userCode string) error {
	return a.call(ctx, http.MethodPost, "/device/deny", adminapi.DeviceDecision{UserCode: userCode}, nil)
}

// Authorize completes an authorize URL as user and returns the redirect.
func (a *Admin) Authorize(ctx context.Context, authorizeURL, user string) (string, error) {
	var out adminapi.AuthorizeResult
	err := a.call(ctx, http.MethodPost, "/authorize", adminapi.Authorize{URL: authorizeURL, User: user}, &out)
	return out.Redirect, err
}

// RotateKeys makes a new signing key active and returns its kid.
func (a *Admin) RotateKeys(ctx context.Context) (string, error) {
	var out adminapi.KeyRotation
	err := a.call(ctx, http.MethodPost, "/keys/rotate", nil, &out)
	return out.KID, err
}

// Outage switches the simulated store outage.
func (a *Admin) Outage(ctx context.Context, on bool) error {
	return a.call(ctx, http.MethodPost, "/outage", adminapi.Outage{Enabled: on}, nil)
}

// PutUser creates or replaces a user.
func (a *Admin) PutUser(ctx context.Context, id string, fields map[string]any) error {
	return a.call(ctx, http.MethodPut, "/users/"+id, fields, nil)
}

// MintAgentIdentity asks the issuer for a new agent identity JWT.
func (a *Admin) MintAgentIdentity(ctx context.Context, user, runtimeID string) (string, error) {
	var out adminapi.AgentIdentity
	err := a.call(ctx, http.MethodPost, "/agent-identities", adminapi.MintAgent{User: user, RuntimeID: runtimeID}, &out)
	return out.JWT, err
}

// RevokeAgentIdentity revokes an agent identity.
func (a *Admin) RevokeAgentIdentity(ctx context.Context, runtimeID string) error {
	return a.call(ctx, http.MethodPost, "/agent-identities/"+runtimeID+"/revoke", nil, nil)
}

// SetAccessTTL overrides the access-token lifetime (0 restores the configured one).
func (a *Admin) SetAccessTTL(ctx context.Context, d time.Duration) error {
	return a.call(ctx, http.MethodPut, "/settings", adminapi.Settings{AccessTTLSeconds: ptr(d.Seconds())}, nil)
}

// Agents lists agent identities with their registered task ids.
func (a *Admin) Agents(ctx context.Context) (map[string][]string, error) {
	var out []adminapi.Agent
	if err := a.call(ctx, http.MethodGet, "/agent-identities", nil, &out); err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for _, o := range out {
		m[o.RuntimeID] = o.Tasks
	}
	return m, nil
}

// ResetClock puts the issuer clock back on real time. Specs that involve
// the real codex need it: codex judges expiry and skew on its own clock.
func (a *Admin) ResetClock(ctx context.Context) error {
	return a.call(ctx, http.MethodPost, "/clock/reset", nil, nil)
}

// SetAutoApprove suspends (false) or resumes (true) the issuer's mock-mode
// auto-approval.
func (a *Admin) SetAutoApprove(ctx context.Context, on bool) error {
	return a.call(ctx, http.MethodPut, "/settings", adminapi.Settings{AutoApprove: &on}, nil)
}

// SetReuseGrace sets the issuer's reuse grace window (0: none).
func (a *Admin) SetReuseGrace(ctx context.Context, d time.Duration) error {
	return a.call(ctx, http.MethodPut, "/settings", adminapi.Settings{ReuseGraceSeconds: ptr(d.Seconds())}, nil)
}

// MintTokens signs user in without a flow and returns the token response.
func (a *Admin) MintTokens(ctx context.Context, user, clientID string) (wire.Tokens, error) {
	var out struct {
		IDToken      string `json:"id_token"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	err := a.call(ctx, http.MethodPost, "/tokens", adminapi.MintTokens{User: user, ClientID: clientID}, &out)
	return wire.Tokens{IDToken: out.IDToken, AccessToken: out.AccessToken, RefreshToken: out.RefreshToken, HasIDToken: true, HasRefreshToken: true}, err
}

// MintPAT creates a personal access token ("at-…") for user.
func (a *Admin) MintPAT(ctx context.Context, user string) (string, error) {
	var out adminapi.PAT
	err := a.call(ctx, http.MethodPost, "/personal-access-tokens", adminapi.MintPAT{User: user}, &out)
	return out.Token, err
}

// RevokePAT revokes a personal access token.
func (a *Admin) RevokePAT(ctx context.Context, token string) error {
	return a.call(ctx, http.MethodPost, "/personal-access-tokens/revoke", adminapi.PAT{Token: token}, nil)
}

// WorkloadAssertion mints a workload identity token for user and binds a
// federation rule to the user; it returns the rule id and the token.
func (a *Admin) WorkloadAssertion(ctx context.Context, user string) (rule, assertion string, err error) {
	var out adminapi.Workload
	err = a.call(ctx, http.MethodPost, "/workload-assertions", adminapi.MintWorkload{User: user}, &out)
	return out.FederationRuleID, out.Assertion, err
}

func ptr[T any](v T) *T { return &v }
