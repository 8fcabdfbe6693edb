package registry

// Requirements of profile pat (see profiles.go). IDs are frozen: never renumber
// or reuse one; retire it instead.
var patRequirements = []Requirement{
	{ID: "CDX-PAT-001", Level: MUST, Profile: ProfilePAT, Section: "§9.1",
		Title:  "whoami with a live personal access token answers 2xx JSON with string chatgpt_user_id, chatgpt_account_id and chatgpt_plan_type and a boolean chatgpt_account_is_fedramp",
		Impact: "`codex login --with-access-token` fails: \"failed to decode personal access token metadata\"."},
	{ID: "CDX-PAT-002", Level: SHOULD, Profile: ProfilePAT, Section: "§9.1",
		Title:  "whoami's email, when present, is a string",
		Impact: "codex fails to decode the token metadata."},
	{ID: "CDX-PAT-003", Level: MUST, Profile: ProfilePAT, Section: "§9.1",
		Title:  "whoami refuses an unknown token with a non-2xx status",
		Impact: "Any string starting with at- logs codex in.",
		Attack: "Any string resolves as a personal access token."},
	{ID: "CDX-PAT-004", Level: MUST, Profile: ProfilePAT, Section: "§9.1",
		Title:  "whoami refuses a revoked token, so codex stops loading it",
		Impact: "Revoked personal access tokens keep working.",
		Attack: "A revoked personal access token keeps working."},
	{ID: "CDX-PAT-005", Level: SHOULD, Profile: ProfilePAT, Section: "§9.1",
		Title:  "whoami's account matches the ChatGPT login of the same user (same chatgpt_account_id)",
		Impact: "The token acts for a different account than the user's ChatGPT login."},
}
