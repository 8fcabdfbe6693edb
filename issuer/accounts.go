package issuer

import (
	"net/http"
	"strings"

	"github.com/codexauth/codexauth/issuer/oauth"
)

// bearerUser checks the access token of the Authorization header exactly
// as the validate endpoint does, and returns its user and account.
func (s *Server) bearerUser(r *http.Request) (user, account string, err *oauth.Error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return "", "", oauth.New(http.StatusUnauthorized, oauth.CodeUnauthorized, "missing bearer access token")
	}
	res, verr := s.validateBearer(r, token)
	if verr != nil {
		if verr.Status >= 500 {
			return "", "", verr
		}
		return "", "", oauth.New(http.StatusUnauthorized, oauth.CodeUnauthorized, "%s", verr.Description)
	}
	return res.UserID, res.AccountID, nil
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
