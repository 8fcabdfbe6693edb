package registry

// Requirements of profile revocation (see profiles.go). IDs are frozen: never renumber
// or reuse one; retire it instead.
var revocationRequirements = []Requirement{
	{ID: "CDX-ERR-002", Level: SHOULD, Profile: ProfileRevocation, Section: "§6.5",
		Title:  "A revoked refresh token is refused with refresh_token_invalidated",
		Impact: "codex keeps retrying a revoked token instead of asking for a new login."},
	{ID: "CDX-REVOKE-002", Level: MUST, Profile: ProfileRevocation, Section: "§7",
		Title:  "A revoked refresh token can no longer refresh",
		Impact: "`codex logout` leaves a working refresh token behind.",
		Attack: "A logged-out (revoked) refresh token keeps minting access tokens."},
	{ID: "CDX-REVOKE-003", Level: SHOULD, Profile: ProfileRevocation, Section: "DESIGN revoke",
		Title:  "Revoking a rotated-out token of a family revokes the family's newest token too",
		Impact: "Revoking an old token leaves the session's live token working.",
		Attack: "Revoking a leaked old token leaves the session it belongs to alive."},
	{ID: "CDX-REVOKE-004", Level: SHOULD, Profile: ProfileRevocation, Section: "§7",
		Title:  "Revoking an access token (hint access_token, no client_id) is answered 2xx",
		Impact: "Access-token-only logouts are refused."},
	{ID: "CDX-REVOKE-005", Level: SHOULD, Profile: ProfileRevocation, Section: "RFC 7009 §2.2",
		Title:  "Revoking an unknown token is answered 200",
		Impact: "Revocation leaks which tokens exist (RFC 7009 §2.2)."},
	{ID: "CDX-REVOKE-006", Level: SHOULD, Profile: ProfileRevocation, Section: "RFC 7009 §2.1",
		Title:  "Form-encoded revocation is accepted",
		Impact: "Standard OAuth clients cannot revoke."},
}
