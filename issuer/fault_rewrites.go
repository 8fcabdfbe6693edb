package issuer

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Routes the catalogue's faults rewrite, as mounted.
const (
	routeToken       = "POST /oauth/token"
	routeRevoke      = "POST /oauth/revoke"
	routeUsercode    = "POST /api/accounts/deviceauth/usercode"
	routeDeviceToken = "POST /api/accounts/deviceauth/token"
	routeWhoami      = "GET /api/accounts/v1/user-auth-credential/whoami"
	routeValidate    = "POST /internal/codex-auth/validate"
	routeASMetadata  = "GET " + asMetadataPath
)

// discoveryRoutes serve the metadata document (OpenID discovery, RFC 8414);
// userinfoRoutes the UserInfo endpoint (OIDC Core §5.3.1: GET and POST).
var (
	discoveryRoutes = []string{"GET /.well-known/openid-configuration", routeASMetadata}
	userinfoRoutes  = []string{"GET " + userinfoPath, "POST " + userinfoPath}
)

// jwksRoutes serve the signing keys: the OIDC JWKS and codex's
// agent-identity JWKS paths (contract §8.1).
var jwksRoutes = []string{"GET /.well-known/jwks.json", "GET /backend-api/wham/agent-identities/jwks", "GET /agent-identities/jwks"}

// routeFaults are the catalogue's faults that change what a route accepts or
// answers. Each says what it does in issuer/faults/catalogue.go.
var routeFaults = mergeRouteFaults(protocolRouteFaults, verifierRouteFaults)

// mergeRouteFaults joins fault tables (a name in two is a programming error).
func mergeRouteFaults(tables ...map[string]routeFault) map[string]routeFault {
	out := map[string]routeFault{}
	for _, t := range tables {
		for name, f := range t {
			if _, dup := out[name]; dup {
				panic("route fault " + name + " defined twice")
			}
			out[name] = f
		}
	}
	return out
}

// protocolRouteFaults break what codex's flows see.
var protocolRouteFaults = map[string]routeFault{
	// Device flow (contract §4).
	faults.UsercodeNotFound: {routes: []string{routeUsercode}, before: func(_ *Server, x *exchange) bool {
		return x.answer(oauth.New(http.StatusNotFound, oauth.CodeNotFound, "device code login is not enabled"))
	}},
	faults.UsercodeFormOnly: {routes: []string{routeUsercode}, before: refuseJSON},
	faults.IntervalNumber: {routes: []string{routeUsercode}, after: func(_ *Server, x *exchange) {
		if v, ok := x.body["interval"].(string); ok && x.ok() {
			n, _ := strconv.Atoi(v)
			x.set("interval", n)
		}
	}},
	faults.IntervalMissing: {routes: []string{routeUsercode}, after: func(_ *Server, x *exchange) {
		if x.ok() {
			x.delete("interval")
		}
	}},
	faults.Pending400: {routes: []string{routeDeviceToken}, after: func(_ *Server, x *exchange) {
		if x.errorCode() == oauth.CodeAuthorizationPending {
			x.status = http.StatusBadRequest
		}
	}},
	faults.DenyAsPending:    {routes: []string{routeDeviceToken}, after: answerPendingFor(oauth.CodeAccessDenied)},
	faults.ExpiredAsPending: {routes: []string{routeDeviceToken}, after: answerPendingFor(oauth.CodeExpiredToken)},
	faults.UnknownDevice404: {routes: []string{routeDeviceToken}, after: func(_ *Server, x *exchange) {
		if x.errorCode() == oauth.CodeInvalidGrant && x.body["error_description"] == unknownDeviceAuthID {
			x.replace(oauth.New(http.StatusNotFound, oauth.CodeNotFound, unknownDeviceAuthID))
		}
	}},
	faults.DeviceNoVerifier: {routes: []string{routeDeviceToken}, after: func(_ *Server, x *exchange) {
		if x.ok() {
			x.delete("code_verifier")
		}
	}},

	// Token endpoint (§3.4, §3.6, §6, §9.2).
	faults.RefreshFormOnly: {routes: []string{routeToken}, before: refuseJSON},
	faults.ExchangeJSONOnly: {routes: []string{routeToken}, before: func(_ *Server, x *exchange) bool {
		if x.parsed && !x.isJSON && x.grantType() == GrantAuthorizationCode {
			return x.answer(oauth.New(http.StatusUnsupportedMediaType, oauth.CodeInvalidRequest, "send application/json"))
		}
		return false
	}},
	faults.RefreshRejectsReason: {routes: []string{routeToken}, before: func(_ *Server, x *exchange) bool {
		if _, ok := x.fields["refresh_reason"]; ok && x.grantType() == GrantRefreshToken {
			return x.answer(oauth.InvalidRequest("unknown parameter \"refresh_reason\""))
		}
		return false
	}},
	faults.Refresh500AfterCommit: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if x.grantType() == GrantRefreshToken && x.ok() {
			x.replace(oauth.New(http.StatusInternalServerError, oauth.CodeServerError, "internal error"))
		}
	}},
	faults.TokenExchange500: {routes: []string{routeToken}, before: func(_ *Server, x *exchange) bool {
		if x.grantType() == GrantTokenExchange {
			return x.answer(oauth.New(http.StatusInternalServerError, oauth.CodeServerError, "API key service unavailable"))
		}
		return false
	}},
	faults.NoRefreshToken: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if x.ok() {
			x.delete("refresh_token")
		}
	}},
	// short-access-ttl and workload-ttl-7200 also set the token's exp
	// (fault_tokens.go).
	faults.ShortAccessTTL: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if _, ok := x.body["expires_in"]; ok && x.ok() {
			x.set("expires_in", 60)
		}
	}},
	faults.WorkloadTTLTooLong: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if x.ok() && x.grantType() == GrantJWTBearer {
			x.set("expires_in", 7200)
		}
	}},
	faults.RefreshBadIDToken: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		id, _ := x.body["id_token"].(string)
		if header, payload, sig := splitJWT(id); x.ok() && x.grantType() == GrantRefreshToken && sig != "" {
			x.set("id_token", header+"."+payload+"=="+"."+sig)
		}
	}},
	faults.ReuseWrongCode: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if x.errorCode() == oauth.CodeRefreshTokenReused {
			x.replace(oauth.InvalidRequest("refresh token cannot be used"))
		}
	}},
	faults.RevokedWrongCode: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if x.errorCode() == oauth.CodeRefreshTokenRevoked {
			x.replace(oauth.New(http.StatusForbidden, "forbidden", "refresh token cannot be used"))
		}
	}},
	faults.ExpiredWrongCode: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if x.errorCode() == oauth.CodeRefreshTokenExpired {
			x.replace(oauth.New(http.StatusInternalServerError, oauth.CodeServerError, "refresh failed"))
		}
	}},
	faults.GraceFork: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if x.ok() && x.store.rotation == store.GraceReplay {
			x.set("refresh_token", newRefreshToken()) // a second successor, never stored
		}
	}},
	// no-rotation and reuse-accepted have their store half in fault_store.go.
	faults.NoRotation: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if x.ok() && x.grantType() == GrantRefreshToken {
			x.set("refresh_token", x.fields["refresh_token"])
		}
	}},
	faults.ReuseAccepted: {routes: []string{routeToken}, after: func(_ *Server, x *exchange) {
		if x.ok() && x.store.fork != "" {
			x.set("refresh_token", x.store.fork)
		}
	}},

	// Revocation (§7, RFC 7009).
	faults.RevokeJSONRejected: {routes: []string{routeRevoke}, before: refuseJSON},
	faults.RevokeNoop: {routes: []string{routeRevoke}, before: func(_ *Server, x *exchange) bool {
		if x.fields["token"] == "" {
			return false
		}
		writeJSON(x.w, http.StatusOK, map[string]any{})
		return true
	}},
	faults.RevokeUnknown400: {routes: []string{routeRevoke}, after: func(_ *Server, x *exchange) {
		if x.status == http.StatusOK && !x.store.revoked {
			x.replace(oauth.InvalidRequest("unknown token"))
		}
	}},

	// Personal access tokens (§9.1).
	faults.PATMissingField: {routes: []string{routeWhoami}, after: func(_ *Server, x *exchange) {
		if x.ok() {
			x.delete("chatgpt_plan_type")
		}
	}},

	// Signing keys (§8.1).
	faults.JWKSMissingKey: {routes: jwksRoutes, after: func(s *Server, x *exchange) {
		active, err := s.keys.Active(x.r.Context())
		if err != nil || !x.ok() {
			return
		}
		kept := []any{}
		all, _ := x.body["keys"].([]any)
		for _, k := range all {
			if jwk, _ := k.(map[string]any); jwk["kid"] != active.KID {
				kept = append(kept, k)
			}
		}
		x.set("keys", kept)
	}},

	// Authorization endpoint (§3.1, §3.2).
	faults.LoopbackRejected: {routes: authorizeRoutes, before: func(s *Server, x *exchange) bool {
		if uri := x.authorizeQuery().Get("redirect_uri"); strings.Contains(uri, ":1457/") {
			return s.refuseAuthorize(x, oauth.InvalidRequest("redirect_uri %q is not registered for this client", uri))
		}
		return false
	}},
	faults.PKCEPlainAccepted: {routes: authorizeRoutes, before: func(_ *Server, x *exchange) bool {
		// A plain challenge is the verifier itself: bind the code to its S256
		// transform, so the authorization goes through.
		q := x.authorizeQuery()
		if m := q.Get("code_challenge_method"); (m == "plain" || m == "") && q.Get("code_challenge") != "" {
			q.Set("code_challenge", s256(q.Get("code_challenge")))
			q.Set("code_challenge_method", "S256")
			x.setAuthorizeQuery(q)
		}
		return false
	}},
	faults.StateDropped: {routes: authorizeRoutes, after: func(_ *Server, x *exchange) {
		x.editClientRedirect(func(q url.Values) { q.Del("state") })
	}},

	// OpenID Connect for standard clients (OIDC Core, RFC 6749, RFC 7009,
	// RFC 8414). nonce-dropped and auth-time-at-issue are token faults
	// (fault_tokens.go).
	faults.PromptNoneLoginPage: {routes: []string{routeAuthorize}, before: func(_ *Server, x *exchange) bool {
		q := x.authorizeQuery()
		if strings.Contains(q.Get("prompt"), "none") {
			q.Del("prompt")
			x.setAuthorizeQuery(q)
		}
		return false
	}},
	faults.RevokeHintStrict: {routes: []string{routeRevoke}, before: func(_ *Server, x *exchange) bool {
		if hint := x.fields["token_type_hint"]; hint != "" && hint != "refresh_token" && hint != "access_token" {
			return x.answer(oauth.New(http.StatusBadRequest, oauth.CodeUnsupportedTokenType, "token_type_hint %q is not supported", hint))
		}
		return false
	}},
	faults.BasicClientRefused: {routes: []string{routeToken, routeRevoke}, before: func(_ *Server, x *exchange) bool {
		if strings.HasPrefix(x.r.Header.Get("Authorization"), "Basic ") && x.fields["client_id"] == "" {
			return x.answer(oauth.InvalidRequest("missing required parameter \"client_id\""))
		}
		return false
	}},
	faults.UserinfoMissing: {routes: append(append([]string{}, userinfoRoutes...), discoveryRoutes...), before: func(_ *Server, x *exchange) bool {
		if !strings.HasSuffix(x.r.URL.Path, userinfoPath) {
			return false
		}
		return x.answer(oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no endpoint at %s", x.r.URL.Path))
	}, after: func(_ *Server, x *exchange) {
		if _, ok := x.body["userinfo_endpoint"]; ok && x.ok() {
			x.delete("userinfo_endpoint")
		}
	}},
	faults.ASMetadataMissing: {routes: []string{routeASMetadata}, before: func(_ *Server, x *exchange) bool {
		return x.answer(oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no endpoint at %s", x.r.URL.Path))
	}},
	faults.RefreshScopeUnchecked: {routes: []string{routeToken}, before: func(_ *Server, x *exchange) bool {
		if x.grantType() == GrantRefreshToken {
			x.deleteField("scope")
		}
		return false
	}},

	// Gateway validation (DESIGN validate).
	faults.ValidateOpen: {routes: []string{routeValidate}, before: func(s *Server, x *exchange) bool {
		x.r.Header.Set("X-Internal-Secret", s.cfg.InternalSecret)
		return false
	}},
	faults.ValidateAccountIgnored: {routes: []string{routeValidate}, before: func(_ *Server, x *exchange) bool {
		x.deleteField("account_id")
		return false
	}},
}

// refuseJSON answers a JSON body as an endpoint that takes forms only would.
func refuseJSON(_ *Server, x *exchange) bool {
	if !x.isJSON {
		return false
	}
	return x.answer(oauth.New(http.StatusUnsupportedMediaType, oauth.CodeInvalidRequest,
		"unsupported Content-Type \"application/json\": send application/x-www-form-urlencoded"))
}

// answerPendingFor answers the device poll's error code as pending.
func answerPendingFor(code string) func(*Server, *exchange) {
	return func(_ *Server, x *exchange) {
		if x.errorCode() == code {
			x.replace(authorizationPending())
		}
	}
}
