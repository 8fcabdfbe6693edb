package issuer

import (
	"errors"
	"net/http"
	"strings"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// handleRevoke implements RFC 7009 token revocation for JSON (codex,
// contract §7) and form bodies. Revoking any refresh token of a family
// revokes the whole family, and with it the family's access tokens.
// Unknown tokens are answered 200 (RFC 7009 §2.2). A public client may name
// itself in HTTP Basic as at the token endpoint (RFC 7009 §2.1, RFC 6749
// §2.3.1).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	p, perr := readParams(w, r, encBoth)
	if perr == nil {
		perr = withBasicClient(r, p)
	}
	if perr != nil {
		oauth.Write(w, perr)
		return
	}
	if err := p.require("token"); err != nil {
		oauth.Write(w, err)
		return
	}
	// The hint is only a hint (RFC 7009 §2.1): one this issuer does not know
	// (id_token, say) means searching every kind, as no hint does.
	hint := p.get("token_type_hint")
	if cid := p.get("client_id"); cid != "" {
		if err := s.checkClient(cid); err != nil {
			oauth.Write(w, err)
			return
		}
	}
	ctx := r.Context()
	now := s.clock.Now()
	token := p.get("token")
	found := false
	// The hint is only an optimisation (RFC 7009 §2.1): try both kinds.
	if hint != "access_token" || !looksLikeJWT(token) {
		t, fam, err := s.store.GetRefreshToken(ctx, store.Hash(token))
		switch {
		case err == nil:
			if cid := p.get("client_id"); cid != "" && cid != fam.ClientID {
				oauth.Write(w, oauth.New(http.StatusBadRequest, oauth.CodeUnauthorizedClient, "token was issued to another client"))
				return
			}
			if err := s.store.RevokeFamily(ctx, t.FamilyID, "revoked", now); err != nil {
				oauth.Write(w, s.storeErr(r, "revoke family", err))
				return
			}
			found = true
			s.log.Info("refresh token family revoked", "family", t.FamilyID, "user", fam.UserID)
		case !errors.Is(err, store.ErrNotFound):
			oauth.Write(w, s.storeErr(r, "look up refresh token", err))
			return
		}
	}
	if !found && looksLikeJWT(token) {
		if claims, err := s.verifyOwnJWT(ctx, token); err == nil {
			if jti, _ := claims["jti"].(string); jti != "" {
				if err := s.store.RevokeAccessToken(ctx, jti, now); err != nil && !errors.Is(err, store.ErrNotFound) {
					oauth.Write(w, s.storeErr(r, "revoke access token", err))
					return
				}
				found = true
			}
		}
	}
	if !found {
		s.log.Debug("revocation of an unknown token answered 200 (RFC 7009 §2.2)")
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

func looksLikeJWT(t string) bool { return strings.Count(t, ".") == 2 }
