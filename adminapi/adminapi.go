// Package adminapi is the wire contract of the reference issuer's /__admin
// API: the request and response bodies and the capability names an issuer
// reports in GET /__admin/state.
//
// It is the only code the issuer (which serves the API) and the conformance
// harness (which drives any issuer that offers it) share. It holds types and
// names only — no behaviour and no imports beyond the standard library — so
// that a bug on one side can never hide behind the same code on the other.
package adminapi

import "time"

// PathPrefix is where the admin API lives under the issuer base URL.
const PathPrefix = "/__admin"

// Capability names an issuer lists in State.Capabilities. A client uses a
// capability only when the issuer reports it.
const (
	CapClock             = "clock"                  // POST /clock/advance moves the issuer clock
	CapFaults            = "faults"                 // PUT /faults switches deliberate defects
	CapAdminApproval     = "admin-approval"         // POST /device/approve and /device/deny
	CapHeadlessAuthorize = "headless-authorize"     // POST /authorize completes an authorize URL
	CapKeyRotation       = "key-rotation"           // POST /keys/rotate
	CapAgentMinting      = "agent-identity-minting" // POST /agent-identities
	CapOutage            = "outage"                 // POST /outage simulates a store outage
	CapSettings          = "settings"               // PUT /settings: lifetimes, grace, auto-approval
	CapPATMinting        = "pat-minting"            // POST /personal-access-tokens
	CapWorkloadMinting   = "workload-minting"       // POST /workload-assertions
)

// State is GET /state.
type State struct {
	Issuer       string    `json:"issuer"`
	Version      string    `json:"version"`
	ClockOffset  float64   `json:"clock_offset_seconds"`
	Now          time.Time `json:"now"`
	Faults       []string  `json:"faults"`
	Users        int       `json:"users"`
	AccessTTL    float64   `json:"access_ttl_seconds"`
	RefreshTTL   float64   `json:"refresh_ttl_seconds"`
	ReuseGrace   float64   `json:"reuse_grace_seconds"`
	AutoApprove  string    `json:"auto_approve_user,omitempty"`
	Validate     bool      `json:"validate_enabled"`
	Capabilities []string  `json:"capabilities"`
}

// Has reports whether the issuer offers the named capability.
func (s State) Has(capability string) bool {
	for _, c := range s.Capabilities {
		if c == capability {
			return true
		}
	}
	return false
}

// Clock is GET /clock and the answer of the clock endpoints.
type Clock struct {
	Now           time.Time `json:"now"`
	OffsetSeconds float64   `json:"offset_seconds"`
}

// ClockAdvance is POST /clock/advance: Seconds, or a Go duration string.
type ClockAdvance struct {
	Seconds  float64 `json:"seconds,omitempty"`
	Duration string  `json:"duration,omitempty"`
}

// Faults is GET /faults; PUT /faults takes Enabled only.
type Faults struct {
	Enabled   []string `json:"enabled"`
	Available []string `json:"available,omitempty"`
}

// DeviceDecision is POST /device/approve ({user_code, user}) and
// POST /device/deny ({user_code}).
type DeviceDecision struct {
	UserCode string `json:"user_code"`
	User     string `json:"user,omitempty"`
}

// Authorize is POST /authorize: complete URL (an /oauth/authorize URL) as
// User; the answer is AuthorizeResult.
type Authorize struct {
	URL  string `json:"url"`
	User string `json:"user"`
}

// AuthorizeResult carries the redirect the issuer would have sent.
type AuthorizeResult struct {
	Redirect string `json:"redirect"`
}

// Settings is PUT /settings: runtime overrides, each optional.
type Settings struct {
	AccessTTLSeconds  *float64 `json:"access_ttl_seconds,omitempty"`
	ReuseGraceSeconds *float64 `json:"reuse_grace_seconds,omitempty"`
	// AutoApprove suspends (false) or resumes (true) mock-mode approval.
	AutoApprove *bool `json:"auto_approve,omitempty"`
}

// Outage is POST /outage.
type Outage struct {
	Enabled bool `json:"enabled"`
}

// MintTokens is POST /tokens: sign User in without a flow. The answer is a
// token-endpoint response (id_token, access_token, refresh_token).
type MintTokens struct {
	User     string `json:"user"`
	ClientID string `json:"client_id,omitempty"`
}

// Family is one element of GET /families.
type Family struct {
	ID           string    `json:"id"`
	UserID       string    `json:"user_id"`
	ClientID     string    `json:"client_id"`
	CreatedAt    time.Time `json:"created_at"`
	Revoked      bool      `json:"revoked"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
}

// MintAgent is POST /agent-identities; the answer is AgentIdentity.
type MintAgent struct {
	User      string `json:"user"`
	RuntimeID string `json:"runtime_id,omitempty"`
}

// AgentIdentity is the answer of POST /agent-identities.
type AgentIdentity struct {
	JWT       string `json:"jwt"`
	RuntimeID string `json:"runtime_id,omitempty"`
}

// Agent is one element of GET /agent-identities.
type Agent struct {
	RuntimeID string   `json:"runtime_id"`
	Tasks     []string `json:"tasks"`
}

// MintPAT is POST /personal-access-tokens; the answer is PAT.
type MintPAT struct {
	User string `json:"user"`
}

// PAT carries a personal access token ("at-…").
type PAT struct {
	Token string `json:"token"`
}

// MintWorkload is POST /workload-assertions; the answer is Workload.
type MintWorkload struct {
	User             string `json:"user"`
	FederationRuleID string `json:"federation_rule_id,omitempty"`
}

// Workload is a workload identity token and the rule that admits it.
type Workload struct {
	FederationRuleID string `json:"federation_rule_id"`
	Assertion        string `json:"assertion"`
}

// KeyRotation is the answer of POST /keys/rotate.
type KeyRotation struct {
	KID string `json:"kid"`
}
