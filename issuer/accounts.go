package issuer

import (
	"net/http"
	"strings"

	"github.com/codexauth/codexauth/issuer/oauth"
)

// bearerUser verifies an access token of this issuer from the
// Authorization header and returns its subject and account id.
func (s *Server) bearerUser(r *http.Request) (sub, account string, err *oauth.Error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return "", "", oauth.New(http.StatusUnauthorized, oauth.CodeUnauthorized, "missing bearer access token")
	}
	claims, verr := s.verifyOwnJWT(r.Context(), token)
	if verr != nil {
		return "", "", oauth.New(http.StatusUnauthorized, oauth.CodeUnauthorized, "access token is not valid: %v", verr)
	}
	jti, _ := claims["jti"].(string)
	rec, gerr := s.store.GetAccessToken(r.Context(), jti)
	if gerr != nil {
		return "", "", oauth.New(http.StatusUnauthorized, oauth.CodeUnauthorized, "access token is not known")
	}
	if !rec.RevokedAt.IsZero() {
		return "", "", oauth.New(http.StatusUnauthorized, oauth.CodeUnauthorized, "access token was revoked")
	}
	if auth, ok := claims[ClaimAuth].(map[string]any); ok {
		account, _ = auth["chatgpt_account_id"].(string)
	}
	return rec.UserID, account, nil
}

// handleAccountsCheck answers the workspace routing discovery that codex
// app-server performs after login (contract §3.9, E13).
func (s *Server) handleAccountsCheck(w http.ResponseWriter, r *http.Request) {
	_, account, err := s.bearerUser(r)
	if err != nil {
		oauth.Write(w, err)
		return
	}
	if want := r.Header.Get("ChatGPT-Account-Id"); want != "" && want != account {
		oauth.Write(w, oauth.New(http.StatusForbidden, "account_mismatch", "ChatGPT-Account-Id does not match the access token"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": []map[string]any{{
		"id": account, "workspace_backend_origin": s.cfg.WorkspaceOrigin, "account_routing_override": "NO_CONSTRAINT",
	}}})
}
