package registry

// Requirements of profile workload (see profiles.go). IDs are frozen: never renumber
// or reuse one; retire it instead.
var workloadRequirements = []Requirement{
	{ID: "CDX-WIF-001", Level: MUST, Profile: ProfileWorkload, Section: "§9.2",
		Title:  "The jwt-bearer exchange answers access_token, token_type bearer, issued_token_type access_token, expires_in, a non-empty scope, chatgpt_account_id, chatgpt_account_user_id and user_id",
		Impact: "codex rejects the exchange: \"…returned an invalid response\"."},
	{ID: "CDX-WIF-002", Level: MUST, Profile: ProfileWorkload, Section: "§9.2",
		Title:  "expires_in is above 0 and at most 3600 (codex rejected 7200)",
		Impact: "codex rejects the exchange (expires_in above 3600)."},
	{ID: "CDX-WIF-003", Level: MUST, Profile: ProfileWorkload, Section: "§9.2",
		Title:  "The access token is a JWT whose auth.chatgpt_user_id equals the answer's user_id",
		Impact: "codex rejects the exchange (opaque token or user mismatch)."},
	{ID: "CDX-WIF-004", Level: SHOULD, Profile: ProfileWorkload, Section: "§9.2",
		Title:  "chatgpt_plan_type, when present, is a non-empty string",
		Impact: "codex rejects an empty plan type."},
	{ID: "CDX-WIF-005", Level: MUST, Profile: ProfileWorkload, Section: "§9.2",
		Title:  "An assertion presented under an unknown federation rule is refused with a 4xx",
		Impact: "Any workload token is exchanged under any rule.",
		Attack: "A workload token is exchanged under a federation rule that does not admit it."},
	{ID: "CDX-WIF-006", Level: SHOULD, Profile: ProfileWorkload, Section: "§9.2",
		Title:  "The optional workload_identity_context is accepted",
		Impact: "Workloads that pass a context cannot authenticate."},
}
