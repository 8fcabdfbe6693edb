package registry

// Requirements of profile expiry (see profiles.go). IDs are frozen: never renumber
// or reuse one; retire it instead.
var expiryRequirements = []Requirement{
	{ID: "CDX-DEVICE-011", Level: SHOULD, Profile: ProfileExpiry, Section: "§4.2",
		Title:  "An expired device code is answered with a status other than 403/404",
		Impact: "An expired code keeps codex polling until its own timeout."},
	{ID: "CDX-REFRESH-006", Level: MUST, Profile: ProfileExpiry, Section: "§6.1",
		Title:  "Inside codex's 300 s window a refresh yields an access token that is outside it",
		Impact: "codex refreshes again on every command after a proactive refresh."},
	{ID: "CDX-ERR-001", Level: SHOULD, Profile: ProfileExpiry, Section: "§6.5",
		Title:  "An expired refresh token is refused with refresh_token_expired",
		Impact: "codex cannot tell the user to sign in again when the session expired."},
}
