package registry

// Requirements of profile resilience (see profiles.go). IDs are frozen: never renumber
// or reuse one; retire it instead.
var resilienceRequirements = []Requirement{
	{ID: "CDX-ERR-003", Level: MUST, Profile: ProfileResilience, Section: "§6.5",
		Title:  "A store outage is answered as transient (never expired/reused/invalidated, 401 or 400 invalid_grant)",
		Impact: "A passing store outage logs every codex user out."},
	{ID: "CDX-ERR-004", Level: MUST, Profile: ProfileResilience, Section: "§6.5",
		Title:  "After an outage the same refresh token works again",
		Impact: "Sessions are lost after an outage."},
	{ID: "CDX-ERR-008", Level: SHOULD, Profile: ProfileResilience, Section: "DESIGN health",
		Title:  "Readiness turns unready during a store outage",
		Impact: "Load balancers keep routing to an instance that cannot reach its store."},
}
