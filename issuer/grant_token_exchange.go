package issuer

import (
	"net/http"
	"slices"

	"github.com/codexauth/codexauth/issuer/oauth"
)

// Token-exchange values codex uses for the API-key exchange (contract §3.6).
const (
	RequestedTokenAPIKey = "openai-api-key"
	TokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
)

// grantTokenExchange trades an id_token this issuer signed for an API key
// (RFC 8693 shape; codex ignores every failure of it, contract §3.6).
func (s *Server) grantTokenExchange(r *http.Request, p params) (any, error) {
	if err := p.require("subject_token", "subject_token_type", "requested_token"); err != nil {
		return nil, err
	}
	if err := s.checkClient(p.get("client_id")); err != nil {
		return nil, err
	}
	if p.get("requested_token") != RequestedTokenAPIKey {
		return nil, oauth.New(http.StatusBadRequest, oauth.CodeInvalidTarget, "requested_token %q is not supported; only %q", p.get("requested_token"), RequestedTokenAPIKey)
	}
	if p.get("subject_token_type") != TokenTypeIDToken {
		return nil, oauth.InvalidRequest("subject_token_type must be %s", TokenTypeIDToken)
	}
	claims, err := s.verifyOwnJWT(r.Context(), p.get("subject_token"))
	if err != nil {
		return nil, oauth.InvalidGrant("subject_token is not a valid id_token of this issuer: %v", err)
	}
	aud, _ := claims.GetAudience()
	if !slices.Contains(aud, p.get("client_id")) {
		return nil, oauth.InvalidGrant("subject_token was issued to another client")
	}
	sub, _ := claims.GetSubject()
	s.log.Info("api key issued", "user", sub)
	return map[string]any{
		"access_token":      "sk-codexauth-" + random(24),
		"issued_token_type": RequestedTokenAPIKey,
		"token_type":        "Bearer",
	}, nil
}
