package registry

// Requirements of profile reuse (see profiles.go). IDs are frozen: never renumber
// or reuse one; retire it instead.
var reuseRequirements = []Requirement{
	{ID: "CDX-REUSE-001", Level: SHOULD, Profile: ProfileReuse, Section: "§6.5",
		Title:  "A rotated-out refresh token is refused with refresh_token_reused",
		Impact: "codex reports a generic failure instead of \"refresh token was already used\"."},
	{ID: "CDX-REUSE-002", Level: MUST, Profile: ProfileReuse, Section: "§6.5",
		Title:  "After reuse the family is revoked: its newest refresh token is refused",
		Impact: "After theft is detected the thief's newest token keeps working.",
		Attack: "After reuse is detected, the thief (or the user) keeps a live session on the family's newest token."},
	{ID: "CDX-REUSE-003", Level: MUST, Profile: ProfileReuse, Section: "§6.5",
		Title:  "The reuse answer is permanent for codex (it must not retry a stolen token forever)",
		Impact: "codex retries a stolen, rotated-out token on every command."},
	{ID: "CDX-REUSE-004", Level: MUST, Profile: ProfileReuse, Section: "DESIGN tokens",
		Title:  "Concurrent presentations of one refresh token never yield two different live successors",
		Impact: "Concurrent refreshes fork a session: two live token chains for one login.",
		Attack: "Racing the user with a stolen token yields a second live session."},
	{ID: "CDX-REUSE-005", Level: SHOULD, Profile: ProfileReuse, Section: "DESIGN tokens",
		Title:  "A re-presented parent within the grace window gets the same successor, never a second branch",
		Impact: "Retries within the grace window fork the session."},
}
