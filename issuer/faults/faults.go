// Package faults is the reference issuer's catalogue of deliberate defects.
// Each fault breaks exactly one behaviour the conformance suite must catch;
// `codexauth selftest` proves it does. Faults are off unless switched on
// with --fault NAME or the admin API. The catalogue describes them; the
// issuer implements each behind a seam outside its handlers (a token-signer
// wrapper, per-route rewriting, a store wrapper, or one of a few named hooks:
// issuer/fault_*.go and issuer/hooks.go).
package faults

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Fault describes one defect.
type Fault struct {
	Name string
	// Breaks says what the issuer does wrong with the fault on.
	Breaks string
	// Contract is the section of docs/codex-issuer-contract.md it violates.
	Contract string
	// Codex is what the real codex 0.169.0 does when it meets the defect;
	// empty when codex cannot observe it (only the suite can).
	Codex string
	// Profiles the self-test runs to catch it.
	Profiles []string
	// Catches lists requirement ids of which at least these must fail.
	Catches []string
	// Flow is the codex flow in which the real client can observe the
	// fault (device-login, browser-login, browser-login-1455-busy, refresh);
	// empty when codex's own outcome does not change.
	Flow string
	// Args are extra `codexauth conform` flags the self-test needs to expose
	// the fault (for example a reuse grace window).
	Args []string
}

// Fault names.
const (
	IntervalNumber         = "interval-number"
	IntervalMissing        = "interval-missing"
	Pending400             = "pending-400"
	UnknownDevice404       = "unknown-device-404"
	DenyAsPending          = "deny-as-pending"
	DeviceNoVerifier       = "device-no-verifier"
	DeviceRedirectRejected = "device-redirect-rejected"
	UsercodeNotFound       = "usercode-404"
	NoRefreshToken         = "no-refresh-token"
	PaddedJWT              = "padded-jwt"
	IDTokenTwoSegments     = "id-token-two-segments"
	OpaqueAccessToken      = "opaque-access-token"
	ShortAccessTTL         = "short-access-ttl"
	ExpNotInteger          = "exp-not-integer"
	EmailNotString         = "email-not-string"
	AuthClaimNotObject     = "auth-claim-not-object"
	PlanNotString          = "plan-not-string"
	FedrampNotBool         = "fedramp-not-bool"
	NoAccountID            = "no-account-id"
	RefreshFormOnly        = "refresh-form-only"
	RefreshRejectsReason   = "refresh-rejects-unknown-field"
	NoRotation             = "no-rotation"
	ReuseAccepted          = "reuse-accepted"
	ReuseNoFamilyRevoke    = "reuse-no-family-revoke"
	ReuseWrongCode         = "reuse-wrong-code"
	ExpiredWrongCode       = "expired-wrong-code"
	RevokedWrongCode       = "revoked-wrong-code"
	OutageAsExpired        = "outage-as-expired"
	GraceFork              = "grace-fork"
	PKCEUnchecked          = "pkce-unchecked"
	PKCEPlainAccepted      = "pkce-plain-accepted"
	CodeReusable           = "code-reusable"
	RedirectUnchecked      = "redirect-unchecked"
	LoopbackRejected       = "loopback-1457-rejected"
	StateDropped           = "state-dropped"
	RevokeNoop             = "revoke-noop"
	RevokeUnknown400       = "revoke-unknown-400"
	RevokeJSONRejected     = "revoke-json-rejected"
	RevokeKeepsAccess      = "revoke-keeps-access"
	JWKSMissingKey         = "jwks-missing-key"
	IssMismatch            = "iss-mismatch"
	AgentIssWrong          = "agent-iss-wrong"
	AgentAudArray          = "agent-aud-array"
	AgentNoKid             = "agent-no-kid"
	TaskSignatureUnchecked = "task-signature-unchecked"
	AssertionReplay        = "assertion-replay"
	ValidateOpen           = "validate-open"
	ExpiredAsPending       = "expired-as-pending"
	RefreshBadIDToken      = "refresh-bad-id-token"
	TokenExchange500       = "token-exchange-500"
	UsercodeFormOnly       = "usercode-form-only"
	ExchangeJSONOnly       = "exchange-json-only"
	ValidateAccountIgnored = "validate-account-ignored"
	AssertionStaleAccepted = "assertion-stale-accepted"
	AssertionTaskUnchecked = "assertion-task-unchecked"
	PATMissingField        = "pat-missing-field"
	WorkloadTTLTooLong     = "workload-ttl-7200"
	WorkloadOpaqueToken    = "workload-opaque-token"
)

var catalogue = map[string]Fault{}

func register(f Fault) { catalogue[f.Name] = f }

// All returns the catalogue sorted by name.
func All() []Fault {
	out := make([]Fault, 0, len(catalogue))
	for _, f := range catalogue {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a fault by name.
func Lookup(name string) (Fault, bool) { f, ok := catalogue[name]; return f, ok }

// Set is the switched-on faults of one issuer. The zero value has none.
type Set struct {
	mu sync.RWMutex
	on map[string]bool
}

// NewSet returns a set with names switched on; unknown names are an error.
func NewSet(names ...string) (*Set, error) {
	s := &Set{}
	for _, n := range names {
		if err := s.Enable(n); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Has reports whether name is on. Nil-safe.
func (s *Set) Has(name string) bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.on[name]
}

// Enable switches name on.
func (s *Set) Enable(name string) error {
	if _, ok := catalogue[name]; !ok {
		return fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.on == nil {
		s.on = map[string]bool{}
	}
	s.on[name] = true
	return nil
}

// Reset switches everything off.
func (s *Set) Reset() { s.mu.Lock(); s.on = nil; s.mu.Unlock() }

// Enabled lists the faults that are on.
func (s *Set) Enabled() []string {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []string{}
	for n := range s.on {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Names lists every fault name.
func Names() []string {
	out := make([]string, 0, len(catalogue))
	for n := range catalogue {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
