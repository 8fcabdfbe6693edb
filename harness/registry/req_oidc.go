package registry

// Requirements of profile oidc (see requirements.go): what standard OpenID
// Connect and OAuth libraries (go-oidc and x/oauth2, openid-client, Authlib,
// requests-oauthlib) need from the same issuer. codex depends on none of it,
// so every one is a SHOULD. IDs are frozen: never renumber or reuse one;
// retire it instead.
var oidcRequirements = []Requirement{
	{ID: "CDX-OIDC-001", Level: SHOULD, Profile: ProfileOIDC, Section: "OIDC Core §3.1.2.1, §3.1.3.7",
		Title:  "The id_token of a code flow carries the nonce of the authorization request",
		Impact: "OpenID clients that send a nonce reject every login (openid-client: `JWT \"nonce\" claim missing`; every Authlib integration: `MissingClaimError`)."},
	{ID: "CDX-OIDC-002", Level: SHOULD, Profile: ProfileOIDC, Section: "OIDC Core §2, §12.2",
		Title:  "auth_time is when the user signed in, not when a token is issued, and a refreshed id_token keeps it (and the nonce)",
		Impact: "Clients enforcing max_age or re-authentication see a fresh login that never happened; libraries comparing the refreshed id_token with the original reject the refresh."},
	{ID: "CDX-OIDC-003", Level: SHOULD, Profile: ProfileOIDC, Section: "OIDC Core §3.1.2.1, §3.1.2.6",
		Title:  "prompt=none never shows a page: without a session it redirects with error=login_required, with one it returns a code",
		Impact: "Silent sign-in checks (hidden iframes, background renewals) hang on a login page instead of learning that the user must sign in."},
	{ID: "CDX-OIDC-004", Level: SHOULD, Profile: ProfileOIDC, Section: "RFC 7009 §2.1, §2.2",
		Title:  "Revocation takes an unknown token_type_hint as a hint only: the token is revoked and the answer is 200",
		Impact: "Clients that send another hint (id_token, say) cannot log out: the revocation is refused and the token stays valid."},
	{ID: "CDX-OIDC-005", Level: SHOULD, Profile: ProfileOIDC, Section: "RFC 6749 §2.3.1, §5.2",
		Title:  "The code exchange takes a public client's id in HTTP Basic with an empty password (or answers 401 invalid_client)",
		Impact: "Libraries that authenticate in the Authorization header by default (requests-oauthlib, x/oauth2 at first) fail with an error they cannot act on."},
	{ID: "CDX-OIDC-006", Level: SHOULD, Profile: ProfileOIDC, Section: "OIDC Core §5.3, RFC 6750 §2, §3",
		Title:  "Discovery names a userinfo_endpoint that answers GET and POST with a bearer access token (sub as in the id_token), and 401 without one",
		Impact: "Clients that read the user's claims from userinfo (go-oidc's UserInfo, openid-client's fetchUserInfo) cannot."},
	{ID: "CDX-OIDC-007", Level: SHOULD, Profile: ProfileOIDC, Section: "RFC 8414 §3",
		Title:  "OAuth authorization server metadata is served at /.well-known/oauth-authorization-server with the issuer and endpoints of OpenID discovery",
		Impact: "OAuth clients that discover through RFC 8414 (MCP clients, oauth4webapi with algorithm oauth2) find no issuer."},
	{ID: "CDX-OIDC-008", Level: SHOULD, Profile: ProfileOIDC, Section: "RFC 6749 §6, §5.2",
		Title:  "A refresh may narrow the scope; a broader one is refused with 400 invalid_scope and the refused token still works",
		Impact: "A client asking for more than the user granted is not told so, or loses its session to the refused refresh.",
		Attack: "A refresh token (or its thief) obtains scopes the user never granted."},
}
