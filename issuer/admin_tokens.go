package issuer

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/codexauth/codexauth/adminapi"
	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Admin API: tokens and their state (minting, key rotation, refresh-token families).

func (s *Server) adminRotateKeys(w http.ResponseWriter, r *http.Request) {
	overlap := s.cfg.AccessTTL
	if s.cfg.IDTokenTTL > overlap {
		overlap = s.cfg.IDTokenTTL
	}
	if agentTTL > overlap {
		overlap = agentTTL
	}
	kid, err := s.keys.Rotate(r.Context(), overlap+time.Minute)
	if err != nil {
		oauth.Write(w, s.storeErr(r, "rotate keys", err))
		return
	}
	s.log.Info("signing key rotated", "kid", kid)
	writeJSON(w, http.StatusOK, map[string]any{"kid": kid, "jwks": s.keys.Document(r.Context())})
}

func (s *Server) adminFamilies(w http.ResponseWriter, r *http.Request) {
	fams, err := s.store.ListFamilies(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		oauth.Write(w, s.storeErr(r, "list families", err))
		return
	}
	out := []adminapi.Family{}
	for _, f := range fams {
		out = append(out, adminapi.Family{ID: f.ID, UserID: f.UserID, ClientID: f.ClientID, CreatedAt: f.CreatedAt, Revoked: f.Revoked(), RevokeReason: f.RevokeReason})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminRevokeFamily(w http.ResponseWriter, r *http.Request) {
	err := s.store.RevokeFamily(r.Context(), chi.URLParam(r, "id"), "admin", s.clock.Now())
	if s.storeFailed(w, r, err, "revoke family", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no family %q", chi.URLParam(r, "id"))) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminMintTokens signs a user in without any flow: a new family and the
// token response a code exchange would give. For client developers who
// need tokens (or a ready auth.json) in one call.
func (s *Server) adminMintTokens(w http.ResponseWriter, r *http.Request) {
	var in adminapi.MintTokens
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	if in.ClientID == "" {
		in.ClientID = s.cfg.ClientIDs[0]
	}
	if err := s.checkClient(in.ClientID); err != nil {
		oauth.Write(w, err)
		return
	}
	ctx := r.Context()
	u, err := s.store.GetUser(ctx, in.User)
	if s.storeFailed(w, r, err, "get user", oauth.InvalidRequest("no user %q", in.User)) {
		return
	}
	now := s.clock.Now()
	fam := store.Family{ID: "fam_" + random(16), UserID: u.ID, ClientID: in.ClientID, Scope: defaultScope, CreatedAt: now}
	refresh := newRefreshToken()
	if err := s.store.CreateFamily(ctx, fam, store.RefreshToken{Hash: store.Hash(refresh), CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}); err != nil {
		oauth.Write(w, s.storeErr(r, "create family", err))
		return
	}
	resp, err := s.issue(ctx, u, fam, refresh, authnContext{AuthTime: now.Unix()}, fam.Scope)
	if err != nil {
		oauth.Write(w, s.storeErr(r, "issue tokens", err))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
