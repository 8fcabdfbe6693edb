package registry

import (
	"fmt"
	"sort"
)

// Level is RFC 2119 strength.
type Level string

// Levels.
const (
	MUST   Level = "MUST"
	SHOULD Level = "SHOULD"
)

// Profiles group requirements by what an issuer offers.
const (
	ProfileCore          = "core"
	ProfileBrowser       = "browser"
	ProfileExpiry        = "expiry"
	ProfileReuse         = "reuse"
	ProfileRevocation    = "revocation"
	ProfileResilience    = "resilience"
	ProfileAgentIdentity = "agent-identity"
	ProfileValidate      = "validate"
	ProfileCodexCLI      = "codex-cli"
	ProfilePAT           = "pat"
	ProfileWorkload      = "workload"
)

// Profiles lists every profile, in report order.
var Profiles = []string{ProfileCore, ProfileBrowser, ProfileExpiry, ProfileReuse, ProfileRevocation, ProfileResilience,
	ProfileAgentIdentity, ProfileValidate, ProfilePAT, ProfileWorkload, ProfileCodexCLI}

// Requirement is one checkable statement of the contract. IDs are frozen:
// never renumber or reuse one; retire it instead.
type Requirement struct {
	ID      string `json:"id"`
	Level   Level  `json:"level"`
	Profile string `json:"profile"`
	Section string `json:"section"`
	Title   string `json:"title"`
}

// Requirements is the frozen registry. Every spec names exactly one of
// these; a test keeps the registry, the specs and docs/requirements.md in
// step.
var Requirements = []Requirement{
	// Discovery and keys.
	{"CDX-DISC-001", SHOULD, ProfileCore, "DESIGN discovery", "OpenID configuration is served as JSON and its issuer equals the base URL"},
	{"CDX-DISC-002", SHOULD, ProfileCore, "DESIGN discovery", "Discovery endpoints are absolute URLs under the issuer base URL"},
	{"CDX-DISC-003", SHOULD, ProfileCore, "§13.34", "The JWKS publishes RSA keys with kid, n and e"},
	{"CDX-DISC-004", SHOULD, ProfileCore, "§3.2", "Discovery advertises S256 as a code challenge method"},
	{"CDX-DISC-005", SHOULD, ProfileCore, "§13.34", "Tokens are RS256-signed with a kid that the JWKS publishes, and the signature verifies"},

	// Device flow.
	{"CDX-DEVICE-001", MUST, ProfileCore, "§4.1", "usercode accepts JSON {client_id} and answers 2xx JSON with string device_auth_id and user_code"},
	{"CDX-DEVICE-002", MUST, ProfileCore, "§4.1", "usercode interval is a JSON string holding an integer (a number makes codex fail)"},
	{"CDX-DEVICE-003", SHOULD, ProfileCore, "§4.1", "usercode interval is present and at least 1 (absent makes codex poll back-to-back)"},
	{"CDX-DEVICE-004", MUST, ProfileCore, "§4.2", "A poll before approval is answered 403 or 404 (any other status ends codex's login)"},
	{"CDX-DEVICE-005", MUST, ProfileCore, "§4.2", "An approved poll answers 2xx with string authorization_code, code_challenge and code_verifier"},
	{"CDX-DEVICE-006", MUST, ProfileCore, "§4.3", "The poll's code_challenge is S256 of its code_verifier (server-held PKCE)"},
	{"CDX-DEVICE-007", MUST, ProfileCore, "§4.3", "The device code is redeemable as a form with redirect_uri=ISSUER/deviceauth/callback and the polled verifier"},
	{"CDX-DEVICE-008", MUST, ProfileCore, "§3.4", "The exchange answers id_token, access_token and refresh_token as strings"},
	{"CDX-DEVICE-009", SHOULD, ProfileCore, "§4.2", "A denied device code is answered with a status other than 403/404, so codex stops polling"},
	{"CDX-DEVICE-010", SHOULD, ProfileCore, "§4.2", "An unknown device_auth_id is answered with a status other than 403/404"},
	{"CDX-DEVICE-011", SHOULD, ProfileExpiry, "§4.2", "An expired device code is answered with a status other than 403/404"},
	{"CDX-DEVICE-012", MUST, ProfileCore, "DESIGN one-time", "A granted device code is handed out once; a second poll gets no second code"},
	{"CDX-DEVICE-013", MUST, ProfileCore, "DESIGN one-time", "The device flow's authorization code is single use"},
	{"CDX-DEVICE-014", SHOULD, ProfileCore, "§4.1", "The verification URL codex prints, ISSUER/codex/device, answers"},
	{"CDX-DEVICE-015", SHOULD, ProfileCore, "§4.2", "A poll whose user_code does not match its device_auth_id gets no code"},
	{"CDX-DEVICE-016", MUST, ProfileCore, "§4.3", "The device code is not redeemable with a wrong code_verifier"},

	// Claims.
	{"CDX-CLAIMS-001", MUST, ProfileCore, "§5.1", "The id_token has three non-empty dot-separated segments"},
	{"CDX-CLAIMS-002", MUST, ProfileCore, "§5.1", "The id_token payload is unpadded base64url of a JSON object"},
	{"CDX-CLAIMS-003", MUST, ProfileCore, "§5.2", "email, when present, is a string"},
	{"CDX-CLAIMS-004", MUST, ProfileCore, "§5.2", "https://api.openai.com/auth, when present, is a JSON object"},
	{"CDX-CLAIMS-005", SHOULD, ProfileCore, "§5.2", "The auth claim carries a string chatgpt_account_id (codex's account id)"},
	{"CDX-CLAIMS-006", MUST, ProfileCore, "§5.2", "auth.chatgpt_plan_type, when present, is a string"},
	{"CDX-CLAIMS-007", MUST, ProfileCore, "§5.2", "auth.chatgpt_account_is_fedramp, when present, is a boolean"},
	{"CDX-CLAIMS-008", SHOULD, ProfileCore, "§5.2", "The auth claim carries chatgpt_user_id or user_id as a string"},
	{"CDX-CLAIMS-009", SHOULD, ProfileCore, "§5.3", "The access token is a JWT codex can read (three segments, unpadded base64url JSON payload)"},
	{"CDX-CLAIMS-010", SHOULD, ProfileCore, "§6.1", "The access token carries an integer exp"},
	{"CDX-CLAIMS-011", SHOULD, ProfileCore, "§6.1", "The access-token lifetime exceeds codex's 300 s proactive-refresh window"},
	{"CDX-CLAIMS-012", SHOULD, ProfileCore, "§5.2", "The access token's chatgpt_account_id equals the id_token's"},
	{"CDX-CLAIMS-013", SHOULD, ProfileCore, "DESIGN tokens", "The id_token's iss equals the issuer base URL"},
	{"CDX-CLAIMS-014", SHOULD, ProfileCore, "§5.2", "An email is available at top level or under https://api.openai.com/profile"},

	// Browser login.
	{"CDX-BROWSER-001", MUST, ProfileBrowser, "§3.2", "Authorize accepts codex's exact URL and redirects to http://127.0.0.1:1455/auth/callback with a code"},
	{"CDX-BROWSER-002", MUST, ProfileBrowser, "§3.2", "Authorize returns state unchanged"},
	{"CDX-BROWSER-003", MUST, ProfileBrowser, "§3.1", "Authorize accepts the fallback redirect http://127.0.0.1:1457/auth/callback"},
	{"CDX-BROWSER-004", SHOULD, ProfileBrowser, "§3.2", "Authorize accepts http://localhost:1455/auth/callback (older clients)"},
	{"CDX-BROWSER-005", MUST, ProfileBrowser, "§3.4", "The code exchange (form, five fields, no secret) answers three string tokens"},
	{"CDX-BROWSER-006", MUST, ProfileBrowser, "§3.2", "The code is not redeemable with a wrong code_verifier (S256 is checked)"},
	{"CDX-BROWSER-007", MUST, ProfileBrowser, "§3.2", "The code is single use"},
	{"CDX-BROWSER-008", MUST, ProfileBrowser, "§3.2", "The code is bound to its redirect_uri"},
	{"CDX-BROWSER-009", MUST, ProfileBrowser, "§3.2", "An unregistered redirect_uri is never redirected to"},
	{"CDX-BROWSER-010", SHOULD, ProfileBrowser, "§3.2", "Authorization requests without S256 PKCE are refused"},
	{"CDX-BROWSER-011", SHOULD, ProfileBrowser, "§3.6", "The openai-api-key token exchange answers a string access_token"},
	{"CDX-BROWSER-012", SHOULD, ProfileBrowser, "§3.2", "Authorize ignores unknown parameters (login_hint, current_workspace_id, allowed_workspace_id)"},
	{"CDX-BROWSER-013", SHOULD, ProfileBrowser, "§3.4", "A failed code exchange answers a JSON error codex can display"},

	// Refresh.
	{"CDX-REFRESH-001", MUST, ProfileCore, "§6.3", "The token endpoint accepts codex's JSON refresh body with refresh_reason and its headers"},
	{"CDX-REFRESH-002", MUST, ProfileCore, "§6.7", "Every refresh_reason codex sends (proactive_expiry, scheduled, forced, unauthorized_recovery) is accepted"},
	{"CDX-REFRESH-003", MUST, ProfileCore, "§6.4", "A refreshed id_token, when present, is a JWT codex can parse"},
	{"CDX-REFRESH-004", SHOULD, ProfileCore, "§6.7", "Refresh rotates: the answer carries a new refresh_token"},
	{"CDX-REFRESH-005", SHOULD, ProfileCore, "§6.1", "The refreshed access token expires later than the one it replaces"},
	{"CDX-REFRESH-006", MUST, ProfileExpiry, "§6.1", "Inside codex's 300 s window a refresh yields an access token that is outside it"},
	{"CDX-REFRESH-007", MUST, ProfileCore, "§6.6", "Several rotations within seconds all succeed (codex's 401 recovery loop)"},
	{"CDX-REFRESH-008", SHOULD, ProfileCore, "§6.4", "Refresh keeps the account: the new tokens carry the same chatgpt_account_id"},
	{"CDX-REFRESH-009", MUST, ProfileCore, "§6.5", "An unknown refresh token is refused with an answer codex treats as permanent"},

	// Reuse detection.
	{"CDX-REUSE-001", SHOULD, ProfileReuse, "§6.5", "A rotated-out refresh token is refused with refresh_token_reused"},
	{"CDX-REUSE-002", SHOULD, ProfileReuse, "§6.5", "After reuse the family is revoked: its newest refresh token is refused"},
	{"CDX-REUSE-003", MUST, ProfileReuse, "§6.5", "The reuse answer is permanent for codex (it must not retry a stolen token forever)"},
	{"CDX-REUSE-004", MUST, ProfileReuse, "DESIGN tokens", "Concurrent presentations of one refresh token never yield two different live successors"},
	{"CDX-REUSE-005", SHOULD, ProfileReuse, "DESIGN tokens", "A re-presented parent within the grace window gets the same successor, never a second branch"},

	// Error classification and resilience.
	{"CDX-ERR-001", SHOULD, ProfileExpiry, "§6.5", "An expired refresh token is refused with refresh_token_expired"},
	{"CDX-ERR-002", SHOULD, ProfileRevocation, "§6.5", "A revoked refresh token is refused with refresh_token_invalidated"},
	{"CDX-ERR-003", MUST, ProfileResilience, "§6.5", "A store outage is answered as transient (never expired/reused/invalidated, 401 or 400 invalid_grant)"},
	{"CDX-ERR-004", MUST, ProfileResilience, "§6.5", "After an outage the same refresh token works again"},
	{"CDX-ERR-005", SHOULD, ProfileCore, "RFC 6749 §5.2", "Token-endpoint errors are JSON with a string error code"},
	{"CDX-ERR-006", MUST, ProfileCore, "DESIGN errors", "Malformed token requests get a 4xx, never a 5xx"},
	{"CDX-ERR-007", SHOULD, ProfileCore, "RFC 6749 §5.2", "An unsupported grant_type is refused with 400 unsupported_grant_type"},
	{"CDX-ERR-008", SHOULD, ProfileResilience, "DESIGN health", "Readiness turns unready during a store outage"},

	// Revocation.
	{"CDX-REVOKE-001", SHOULD, ProfileCore, "§7", "codex's JSON revoke {token, token_type_hint: refresh_token, client_id} is answered 2xx"},
	{"CDX-REVOKE-002", SHOULD, ProfileRevocation, "§7", "A revoked refresh token can no longer refresh"},
	{"CDX-REVOKE-003", SHOULD, ProfileRevocation, "DESIGN revoke", "Revoking a rotated-out token of a family revokes the family's newest token too"},
	{"CDX-REVOKE-004", SHOULD, ProfileRevocation, "§7", "Revoking an access token (hint access_token, no client_id) is answered 2xx"},
	{"CDX-REVOKE-005", SHOULD, ProfileRevocation, "RFC 7009 §2.2", "Revoking an unknown token is answered 200"},
	{"CDX-REVOKE-006", SHOULD, ProfileRevocation, "RFC 7009 §2.1", "Form-encoded revocation is accepted"},

	// Agent identity (§8).
	{"CDX-AGENT-001", MUST, ProfileAgentIdentity, "§8.1", "The agent identity JWT is signed RS256 and its header carries a kid"},
	{"CDX-AGENT-002", MUST, ProfileAgentIdentity, "§8.1", "The kid is published at <jwks-base>/wham/agent-identities/jwks and the signature verifies with it"},
	{"CDX-AGENT-003", MUST, ProfileAgentIdentity, "§8.1", "iss is exactly https://chatgpt.com/codex-backend/agent-identity"},
	{"CDX-AGENT-004", MUST, ProfileAgentIdentity, "§8.1", "aud is exactly the string codex-app-server (not an array)"},
	{"CDX-AGENT-005", MUST, ProfileAgentIdentity, "§8.1", "iat and exp are integers and exp lies in the future"},
	{"CDX-AGENT-006", MUST, ProfileAgentIdentity, "§8.1", "agent_runtime_id, account_id, chatgpt_user_id and plan_type are strings, chatgpt_account_is_fedramp a boolean, email a string or absent"},
	{"CDX-AGENT-007", MUST, ProfileAgentIdentity, "§8.1", "agent_private_key is standard base64 of a PKCS#8 Ed25519 private key"},
	{"CDX-AGENT-008", SHOULD, ProfileAgentIdentity, "§1 E11", "The same JWKS is served at /agent-identities/jwks for bases without /backend-api"},
	{"CDX-AGENT-009", MUST, ProfileAgentIdentity, "§8.2", "A correctly signed task registration answers a task id"},
	{"CDX-AGENT-010", MUST, ProfileAgentIdentity, "§8.2", "A task registration signed with another key is refused with a 4xx"},
	{"CDX-AGENT-011", SHOULD, ProfileAgentIdentity, "DESIGN agent identity", "A replayed task registration (same timestamp and signature) registers no new task: it is refused or gets the first task id back"},
	{"CDX-AGENT-012", SHOULD, ProfileAgentIdentity, "DESIGN agent identity", "A task registration whose timestamp is more than 5 minutes off is refused"},
	{"CDX-AGENT-013", SHOULD, ProfileAgentIdentity, "§8.2", "A task registration for an unknown agent is refused with a 4xx (codex does not retry 4xx)"},
	{"CDX-AGENT-014", SHOULD, ProfileAgentIdentity, "DESIGN keys", "After a signing-key rotation, identities and tokens minted before it still verify against the JWKS"},
	{"CDX-AGENT-015", SHOULD, ProfileAgentIdentity, "DESIGN agent identity", "A revoked identity can no longer register tasks"},

	// Gateway validation.
	{"CDX-VAL-001", MUST, ProfileValidate, "DESIGN validate", "Without the right X-Internal-Secret every validation is refused"},
	{"CDX-VAL-002", MUST, ProfileValidate, "DESIGN validate", "A live bearer access token validates to its user_id"},
	{"CDX-VAL-003", MUST, ProfileValidate, "DESIGN validate", "A bearer access token of a revoked family is refused"},
	{"CDX-VAL-004", SHOULD, ProfileValidate, "DESIGN validate", "A bearer token checked against another account_id is refused"},
	{"CDX-VAL-005", MUST, ProfileValidate, "§8.3", "A fresh AgentAssertion for a registered task validates to the agent's user_id"},
	{"CDX-VAL-006", MUST, ProfileValidate, "DESIGN validate", "An AgentAssertion is accepted once: a replay is refused"},
	{"CDX-VAL-007", MUST, ProfileValidate, "§8.3", "An AgentAssertion signed with another key is refused"},
	{"CDX-VAL-008", SHOULD, ProfileValidate, "DESIGN validate", "An AgentAssertion more than 5 minutes old is refused"},
	{"CDX-VAL-009", MUST, ProfileValidate, "DESIGN validate", "An AgentAssertion naming another agent's task is refused"},
	{"CDX-VAL-010", SHOULD, ProfileValidate, "DESIGN errors", "Garbage tokens and assertions are refused with a 4xx, never a 5xx"},
	{"CDX-VAL-011", SHOULD, ProfileValidate, "DESIGN keys", "Bearer tokens issued before a signing-key rotation still validate"},

	// Personal access tokens (§9.1).
	{"CDX-PAT-001", MUST, ProfilePAT, "§9.1", "whoami with a live personal access token answers 2xx JSON with string chatgpt_user_id, chatgpt_account_id and chatgpt_plan_type and a boolean chatgpt_account_is_fedramp"},
	{"CDX-PAT-002", SHOULD, ProfilePAT, "§9.1", "whoami's email, when present, is a string"},
	{"CDX-PAT-003", MUST, ProfilePAT, "§9.1", "whoami refuses an unknown token with a non-2xx status"},
	{"CDX-PAT-004", SHOULD, ProfilePAT, "§9.1", "whoami refuses a revoked token, so codex stops loading it"},
	{"CDX-PAT-005", SHOULD, ProfilePAT, "§9.1", "whoami's account matches the ChatGPT login of the same user (same chatgpt_account_id)"},

	// Workload identity federation (§9.2).
	{"CDX-WIF-001", MUST, ProfileWorkload, "§9.2", "The jwt-bearer exchange answers access_token, token_type bearer, issued_token_type access_token, expires_in, a non-empty scope, chatgpt_account_id, chatgpt_account_user_id and user_id"},
	{"CDX-WIF-002", MUST, ProfileWorkload, "§9.2", "expires_in is above 0 and at most 3600 (codex rejected 7200)"},
	{"CDX-WIF-003", MUST, ProfileWorkload, "§9.2", "The access token is a JWT whose auth.chatgpt_user_id equals the answer's user_id"},
	{"CDX-WIF-004", SHOULD, ProfileWorkload, "§9.2", "chatgpt_plan_type, when present, is a non-empty string"},
	{"CDX-WIF-005", SHOULD, ProfileWorkload, "§9.2", "An assertion presented under an unknown federation rule is refused with a 4xx"},
	{"CDX-WIF-006", SHOULD, ProfileWorkload, "§9.2", "The optional workload_identity_context is accepted"},

	// The real codex CLI (the suite's oracle).
	{"CDX-CLI-001", MUST, ProfileCodexCLI, "§4, §10", "The real codex 0.169.0 completes device login; auth.json holds mode chatgpt, three tokens, account_id and the issuer's provenance"},
	{"CDX-CLI-002", MUST, ProfileCodexCLI, "§3, §10", "The real codex completes browser login through its loopback callback; auth.json holds three tokens and account_id"},
	{"CDX-CLI-003", SHOULD, ProfileCodexCLI, "§3.6", "After browser login auth.json holds the API key of the token exchange"},
	{"CDX-CLI-004", MUST, ProfileCodexCLI, "§6.1", "With the access token inside the 300 s window, `codex features list` refreshes: auth.json's tokens rotate and last_refresh moves"},
	{"CDX-CLI-005", MUST, ProfileCodexCLI, "§6.6", "Two consecutive codex refreshes both succeed"},
	{"CDX-CLI-006", SHOULD, ProfileCodexCLI, "§7", "`codex logout` deletes auth.json and the issuer refuses the logged-out refresh token"},
	{"CDX-CLI-007", MUST, ProfileCodexCLI, "§10", "`codex login status` reports a ChatGPT login after device login"},
	{"CDX-CLI-008", SHOULD, ProfileCodexCLI, "§3.1", "With port 1455 busy, codex's browser login falls back to 1457 and completes"},
	{"CDX-CLI-010", MUST, ProfileCodexCLI, "§9.1", "`codex login --with-access-token` with a personal access token succeeds and `codex login status` reports it"},
	{"CDX-CLI-011", SHOULD, ProfileCodexCLI, "§2.1, §3.9", "`codex app-server` (CODEX_APP_SERVER_LOGIN_ISSUER) completes a device login, which needs <chatgpt_base_url>/wham/accounts/check to answer the account with an https origin (served at the issuer's /backend-api, as the reference issuer does)"},
	{"CDX-CLI-012", MUST, ProfileCodexCLI, "§9.2", "With OPENAI_FEDERATION_RULE_ID and OPENAI_IDENTITY_TOKEN_FILE, `codex login status` reports \"Logged in using workload identity\""},
	{"CDX-CLI-009", MUST, ProfileCodexCLI, "§8", "With CODEX_ACCESS_TOKEN set to an agent identity, `codex login status` reports \"Logged in using access token\" and the issuer records the task registration"},
}

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
		panic(fmt.Sprintf("requirement %s is not in the registry (harness/requirements.go)", id))
	}
	return r
}

// SortedIDs returns every id in registry order.
func SortedIDs() []string {
	out := make([]string, 0, len(Requirements))
	for _, r := range Requirements {
		out = append(out, r.ID)
	}
	sort.Strings(out)
	return out
}
