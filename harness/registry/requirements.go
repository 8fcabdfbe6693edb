// Package registry is the conformance suite's frozen registry: every
// requirement (id, level, profile, contract section, text, impact) is one
// entry here, and every spec names exactly one. The catalogue
// (docs/requirements.md), the reports and `conform --list` are generated
// from it; nothing else restates a requirement.
package registry

import (
	"fmt"
	"strings"
)

// Level is RFC 2119 strength.
type Level string

// Levels. MUST where codex users fail, or where a stolen, revoked or
// logged-out credential keeps working; SHOULD where codex only degrades or a
// standard client would stumble.
const (
	MUST   Level = "MUST"
	SHOULD Level = "SHOULD"
)

// Profile groups requirements by what an issuer offers.
type Profile string

// Profiles.
const (
	ProfileCore          Profile = "core"
	ProfileBrowser       Profile = "browser"
	ProfileExpiry        Profile = "expiry"
	ProfileReuse         Profile = "reuse"
	ProfileRevocation    Profile = "revocation"
	ProfileResilience    Profile = "resilience"
	ProfileAgentIdentity Profile = "agent-identity"
	ProfileValidate      Profile = "validate"
	ProfileCodexCLI      Profile = "codex-cli"
	ProfilePAT           Profile = "pat"
	ProfileWorkload      Profile = "workload"
	ProfileOIDC          Profile = "oidc"
)

// ProfileInfo describes a profile for --help, README and the catalogue.
type ProfileInfo struct {
	Name Profile
	// What the profile checks.
	What string
	// Needs is what a target must offer for its specs to run.
	Needs string
	// requirements of the profile, in registry order.
	requirements []Requirement
}

// ProfileInfos lists every profile in report order. The self-test, the
// reports and the catalogue iterate it.
var ProfileInfos = []ProfileInfo{
	{ProfileCore, "discovery, device login, claims, refresh, error classification, logout", "an approver for device codes", coreRequirements},
	{ProfileBrowser, "PKCE authorize, callback, code binding, API-key exchange", "an approver that can complete an authorize URL", browserRequirements},
	{ProfileExpiry, "exp-driven refresh inside codex's 300 s window, expired device codes and refresh tokens", "clock control (admin API), or `--access-ttl` within `--max-wait`", expiryRequirements},
	{ProfileReuse, "rotation, reuse detection, family revocation, concurrent presentation, grace window", "—", reuseRequirements},
	{ProfileRevocation, "RFC 7009 revocation and its effect on refresh", "—", revocationRequirements},
	{ProfileResilience, "store outages answered as transient, readiness", "outage simulation (admin API)", resilienceRequirements},
	{ProfileAgentIdentity, "agent identity JWTs as codex verifies them, task registration", "admin minting or `--agent-identity FILE`", agentIdentityRequirements},
	{ProfileValidate, "the gateway validate endpoint: bearer tokens, AgentAssertions, replay", "`--internal-secret` (and `--validate-url` if not under the issuer)", validateRequirements},
	{ProfilePAT, "personal access tokens (`at-…`) resolved by `whoami`", "admin minting or `--personal-access-token FILE`", patRequirements},
	{ProfileWorkload, "workload identity federation (jwt-bearer exchange)", "admin minting or `--workload-assertion FILE --federation-rule-id ID`", workloadRequirements},
	{ProfileOIDC, "what standard OpenID Connect clients need: nonce, auth_time, prompt=none, userinfo, RFC 8414 metadata, HTTP Basic client ids, revocation hints, scope narrowing", "an approver that can complete an authorize URL", oidcRequirements},
	{ProfileCodexCLI, "the real codex binary: device and browser login (CLI and app-server), refresh, logout, agent identity, personal access token, workload identity", "`scripts/install-codex.sh` (or `--codex-bin`)", codexCliRequirements},
}

// Profiles lists every profile name, in report order.
var Profiles = func() []Profile {
	out := make([]Profile, len(ProfileInfos))
	for i, p := range ProfileInfos {
		out[i] = p.Name
	}
	return out
}()

// ParseProfile returns the profile named s.
func ParseProfile(s string) (Profile, bool) {
	for _, p := range Profiles {
		if string(p) == s {
			return p, true
		}
	}
	return "", false
}

// Requirement is one checkable statement of the contract. IDs are frozen:
// never renumber or reuse one; retire it instead.
type Requirement struct {
	ID      string  `json:"id"`
	Level   Level   `json:"level"`
	Profile Profile `json:"profile"`
	Section string  `json:"section"`
	Title   string  `json:"title"`
	// Impact says what a codex user (or an operator) suffers when an issuer
	// violates the requirement: printed in the catalogue and attached to
	// every failure in the report.
	Impact string `json:"impact"`
	// Attack says what an attacker gains when the requirement is violated
	// ("" when it is about codex working, not about security). A violation
	// that lets a stolen, revoked or logged-out credential keep working, or
	// a captured message mint new state, is a MUST.
	Attack string `json:"attack,omitempty"`
}

// Security reports whether the requirement is about what an attacker gains.
func (r Requirement) Security() bool { return r.Attack != "" }

// Requirements is the whole registry, profile by profile in report order.
var Requirements = func() []Requirement {
	var out []Requirement
	for _, p := range ProfileInfos {
		for _, r := range p.requirements {
			if r.Profile != p.Name {
				panic(fmt.Sprintf("requirement %s is listed under profile %s but says %s", r.ID, p.Name, r.Profile))
			}
			out = append(out, r)
		}
	}
	return out
}()

var byID = func() map[string]Requirement {
	m := map[string]Requirement{}
	for _, r := range Requirements {
		if _, dup := m[r.ID]; dup {
			panic("duplicate requirement id " + r.ID)
		}
		m[r.ID] = r
	}
	return m
}()

// Lookup returns the requirement with id.
func Lookup(id string) (Requirement, bool) { r, ok := byID[id]; return r, ok }

// MustLookup is Lookup for ids written in specs.
func MustLookup(id string) Requirement {
	r, ok := byID[id]
	if !ok {
		panic(fmt.Sprintf("requirement %s is not in the registry (harness/registry)", id))
	}
	return r
}

// ProfileNames is the comma-separated list of profile names (for help texts).
func ProfileNames() string {
	names := make([]string, len(Profiles))
	for i, p := range Profiles {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}
