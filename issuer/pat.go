package issuer

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// patTTL is the default lifetime of minted personal access tokens.
const patTTL = 30 * 24 * time.Hour

// handleWhoami resolves a personal access token (contract §9.1): codex calls
// GET <authapi>/v1/user-auth-credential/whoami with Bearer at-… at login and
// at every load, and needs chatgpt_user_id, chatgpt_account_id,
// chatgpt_plan_type (strings) and chatgpt_account_is_fedramp (boolean).
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !strings.HasPrefix(tok, "at-") {
		oauth.Write(w, oauth.New(http.StatusUnauthorized, oauth.CodeUnauthorized, "send Authorization: Bearer at-…"))
		return
	}
	ctx := r.Context()
	p, err := s.store.GetPAT(ctx, store.Hash(tok))
	switch {
	case errors.Is(err, store.ErrNotFound):
		oauth.Write(w, oauth.New(http.StatusUnauthorized, codeInvalidToken, "unknown personal access token"))
		return
	case err != nil:
		oauth.Write(w, s.storeErr(r, "get personal access token", err))
		return
	case !p.RevokedAt.IsZero():
		oauth.Write(w, oauth.New(http.StatusUnauthorized, codeTokenRevoked, "personal access token was revoked"))
		return
	case !s.clock.Now().Before(p.ExpiresAt):
		oauth.Write(w, oauth.New(http.StatusUnauthorized, codeTokenExpired, "personal access token has expired"))
		return
	}
	u, err := s.store.GetUser(ctx, p.UserID)
	if err != nil || u.Disabled {
		oauth.Write(w, oauth.New(http.StatusUnauthorized, codeInvalidToken, "the token's user no longer exists"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"chatgpt_user_id": u.ChatGPTUserID, "chatgpt_account_id": u.AccountID,
		"chatgpt_plan_type": u.PlanType, "chatgpt_account_is_fedramp": u.FedRAMP, "email": u.Email})
}

// adminMintPAT creates a personal access token for a user.
func (s *Server) adminMintPAT(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User       string  `json:"user"`
		TTLSeconds float64 `json:"ttl_seconds"`
	}
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	if _, err := s.store.GetUser(r.Context(), in.User); err != nil {
		oauth.Write(w, oauth.InvalidRequest("no user %q", in.User))
		return
	}
	ttl := time.Duration(in.TTLSeconds * float64(time.Second))
	if ttl <= 0 {
		ttl = patTTL
	}
	now := s.clock.Now()
	tok := "at-" + random(32)
	if err := s.store.CreatePAT(r.Context(), store.PersonalAccessToken{Hash: store.Hash(tok), UserID: in.User, CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		oauth.Write(w, s.storeErr(r, "create personal access token", err))
		return
	}
	s.log.Info("personal access token minted", "user", in.User)
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_at": now.Add(ttl).UTC()})
}

func (s *Server) adminRevokePAT(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	err := s.store.RevokePAT(r.Context(), store.Hash(in.Token), s.clock.Now())
	if s.storeFailed(w, r, err, "revoke personal access token", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no such personal access token")) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
