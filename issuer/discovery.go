package issuer

import (
	"net/http"
	"time"
)

// handleDiscovery serves OpenID Connect Discovery 1.0 §3 metadata, with
// RFC 8414 fields for revocation and codex's device endpoints. The same
// document answers RFC 8414's /.well-known/oauth-authorization-server
// (§3: OpenID fields are allowed there, and issuer must be identical).
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	doc := map[string]any{
		"issuer":                                     s.cfg.PublicURL,
		"authorization_endpoint":                     s.URL("/oauth/authorize"),
		"token_endpoint":                             s.URL("/oauth/token"),
		"revocation_endpoint":                        s.URL("/oauth/revoke"),
		"userinfo_endpoint":                          s.URL(userinfoPath),
		"jwks_uri":                                   s.URL("/.well-known/jwks.json"),
		"response_types_supported":                   []string{"code"},
		"response_modes_supported":                   []string{"query"},
		"grant_types_supported":                      s.grantTypes(),
		"code_challenge_methods_supported":           []string{"S256"},
		"token_endpoint_auth_methods_supported":      []string{"none"},
		"revocation_endpoint_auth_methods_supported": []string{"none"},
		"subject_types_supported":                    []string{"public"},
		"id_token_signing_alg_values_supported":      []string{"RS256"},
		"scopes_supported":                           []string{"openid", "profile", "email", "offline_access", "api.connectors.read", "api.connectors.invoke"},
		"claims_supported":                           []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "email", "email_verified", "name", ClaimAuth, ClaimProfile},
		"codex_device_usercode_endpoint":             s.URL("/api/accounts/deviceauth/usercode"),
		"codex_device_token_endpoint":                s.URL("/api/accounts/deviceauth/token"),
		"codex_device_verification_uri":              s.URL(deviceVerificationPath),
		"codex_device_callback_uri":                  s.URL(deviceCallbackPath),
		"agent_identity_jwks_uri":                    s.URL("/backend-api/wham/agent-identities/jwks"),
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Type", "application/json")
	writeJSONNoStore(w, doc)
}

// handleJWKS serves the token-signing keys (RFC 7517 §5).
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSONNoStore(w, s.keys.Document(r.Context()))
}

// writeJSONNoStore writes v as JSON with status 200, keeping any
// Cache-Control the caller set.
func writeJSONNoStore(w http.ResponseWriter, v any) {
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = jsonEncode(w, v)
}

func (s *Server) clockOffset() time.Duration {
	if a, ok := s.clock.(interface{ Offset() time.Duration }); ok {
		return a.Offset()
	}
	return 0
}

// asMetadataPath is RFC 8414 §3's well-known path, served under the
// issuer's path prefix (like OpenID discovery); a proxy may also map the
// §3.1 form, /.well-known/oauth-authorization-server/<prefix>, here.
const asMetadataPath = "/.well-known/oauth-authorization-server"
