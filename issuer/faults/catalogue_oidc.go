package faults

// Faults of the oidc profile: what standard OpenID Connect and OAuth
// libraries need (OIDC Core, RFC 6749, RFC 7009, RFC 8414). codex sends none
// of these requests, so the real codex never observes them: only the suite
// can tell.
const (
	NonceDropped          = "nonce-dropped"
	AuthTimeAtIssue       = "auth-time-at-issue"
	PromptNoneLoginPage   = "prompt-none-login-page"
	RevokeHintStrict      = "revoke-hint-strict"
	BasicClientRefused    = "basic-client-refused"
	UserinfoMissing       = "userinfo-missing"
	ASMetadataMissing     = "as-metadata-missing"
	RefreshScopeUnchecked = "refresh-scope-unchecked"
)

func init() {
	oidc := []string{"oidc"}
	for _, f := range []Fault{
		{Name: NonceDropped, Breaks: "the id_token omits the nonce of the authorization request", Contract: "OIDC Core §3.1.3.7", Profiles: oidc,
			Catches: []string{"CDX-OIDC-001"}},
		{Name: AuthTimeAtIssue, Breaks: "auth_time is the time each id_token is issued, not when the user signed in", Contract: "OIDC Core §2, §12.2", Profiles: oidc,
			Catches: []string{"CDX-OIDC-002"}},
		{Name: PromptNoneLoginPage, Breaks: "prompt=none without a session shows the login page instead of redirecting with login_required", Contract: "OIDC Core §3.1.2.6", Profiles: oidc,
			Catches: []string{"CDX-OIDC-003"}},
		{Name: RevokeHintStrict, Breaks: "revocation answers 400 unsupported_token_type to a token_type_hint it does not know", Contract: "RFC 7009 §2.1", Profiles: oidc,
			Catches: []string{"CDX-OIDC-004"}},
		{Name: BasicClientRefused, Breaks: "a client id sent in HTTP Basic is ignored: 400 missing client_id", Contract: "RFC 6749 §2.3.1, §5.2", Profiles: oidc,
			Catches: []string{"CDX-OIDC-005"}},
		{Name: UserinfoMissing, Breaks: "no userinfo endpoint: discovery names none and the path answers 404", Contract: "OIDC Core §5.3", Profiles: oidc,
			Catches: []string{"CDX-OIDC-006"}},
		{Name: ASMetadataMissing, Breaks: "/.well-known/oauth-authorization-server answers 404", Contract: "RFC 8414 §3", Profiles: oidc,
			Catches: []string{"CDX-OIDC-007"}},
		{Name: RefreshScopeUnchecked, Breaks: "a refresh asking for a broader scope is answered 200 (the scope asked for is ignored)", Contract: "RFC 6749 §6", Profiles: oidc,
			Catches: []string{"CDX-OIDC-008"}},
	} {
		register(f)
	}
}
