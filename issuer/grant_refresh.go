package issuer

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// grantRefreshToken rotates a refresh token (RFC 6749 §6; OAuth 2.0
// Security BCP §4.14.2 rotation with reuse detection). codex sends JSON
// {client_id, grant_type, refresh_reason, refresh_token}; refresh_reason and
// any other unknown field are ignored (contract §6.3, §6.7).
//
// The error codes are codex's (contract §6.5): refresh_token_expired,
// refresh_token_reused and refresh_token_invalidated are permanent for it;
// a store failure is 503 temporarily_unavailable, which it retries.
func (s *Server) grantRefreshToken(r *http.Request, p params) (any, error) {
	if s.faults.Has(faults.RefreshRejectsReason) && p.has("refresh_reason") {
		return nil, oauth.InvalidRequest("unknown parameter \"refresh_reason\"")
	}
	if err := p.require("refresh_token"); err != nil {
		return nil, err
	}
	if cid := p.get("client_id"); cid != "" {
		if err := s.checkClient(cid); err != nil {
			return nil, err
		}
	}
	ctx := r.Context()
	now := s.clock.Now()
	presented := p.get("refresh_token")
	if s.faults.Has(faults.NoRotation) {
		return s.refreshWithoutRotation(r, p, presented)
	}
	child := s.childOf(presented)
	access := store.AccessTokenRecord{JTI: random(16), IssuedAt: now, ExpiresAt: now.Add(s.accessTTL())}
	res, err := offCPU(ctx, func() (store.RotateResult, error) {
		return s.store.RotateRefreshToken(ctx, store.RotateParams{
			PresentedHash:  store.Hash(presented),
			ChildHash:      store.Hash(child),
			ChildExpiresAt: now.Add(s.cfg.RefreshTTL),
			Now:            now,
			Grace:          s.reuseGrace(),
			ClientID:       p.get("client_id"),
			Access:         &access,
		})
	})
	if err != nil {
		return nil, s.storeErr(r, "rotate refresh token", err)
	}
	s.metrics.inc("codexauth_refresh_total", `outcome="`+res.Outcome.String()+`"`)
	fam := res.Family
	switch res.Outcome {
	case store.Rotated, store.GraceReplay:
	case store.Reused:
		if s.faults.Has(faults.ReuseAccepted) {
			// Defect: hand out a fresh branch for a rotated-out token.
			child = newRefreshToken()
			if err := s.store.CreateFamily(ctx, store.Family{ID: "fam_" + random(16), UserID: fam.UserID, ClientID: fam.ClientID, Scope: fam.Scope, CreatedAt: now},
				store.RefreshToken{Hash: store.Hash(child), CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}); err != nil {
				return nil, s.storeErr(r, "fork family", err)
			}
			break
		}
		s.log.Warn("refresh token reuse detected; family revoked", "family", fam.ID, "user", fam.UserID)
		if s.faults.Has(faults.ReuseWrongCode) {
			return nil, oauth.InvalidRequest("refresh token cannot be used")
		}
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenReused, "refresh token was already used; its sign-in has been revoked, sign in again")
	case store.FamilyRevoked:
		if s.faults.Has(faults.RevokedWrongCode) {
			return nil, oauth.New(http.StatusForbidden, "forbidden", "refresh token cannot be used")
		}
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenRevoked, "refresh token was revoked; sign in again")
	case store.Expired:
		if s.faults.Has(faults.ExpiredWrongCode) {
			return nil, oauth.New(http.StatusInternalServerError, oauth.CodeServerError, "refresh failed")
		}
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenExpired, "refresh token has expired; sign in again")
	case store.WrongClient:
		return nil, oauth.InvalidGrant("refresh token was issued to another client")
	default:
		return nil, oauth.InvalidGrant("refresh token is not valid")
	}
	if s.faults.Has(faults.GraceFork) && res.Outcome == store.GraceReplay {
		child = newRefreshToken()
	}
	u, err := s.rotatedUser(ctx, res)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		_ = s.store.RevokeFamily(ctx, fam.ID, "user_removed", now)
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenRevoked, "the user of this refresh token no longer exists or is disabled")
	} else if err != nil {
		return nil, s.storeErr(r, "load user", err)
	}
	var resp tokenResponse
	if res.Outcome.HandsOutTokens() { // the rotation recorded the access token
		resp, err = s.mint(ctx, u, fam, child, fam.CreatedAt, access.JTI, now)
	} else {
		resp, err = s.issue(ctx, u, fam, child, fam.CreatedAt)
	}
	if err != nil {
		return nil, s.storeErr(r, "issue tokens", err)
	}
	if s.faults.Has(faults.RefreshBadIDToken) {
		if parts := strings.SplitN(resp.IDToken, ".", 3); len(parts) == 3 {
			parts[1] += "=="
			resp.IDToken = strings.Join(parts, ".")
		}
	}
	return resp, nil
}

// rotatedUser is the family's user as the rotation read it, so a refresh
// costs no second lookup; an outcome that read none is looked up.
func (s *Server) rotatedUser(ctx context.Context, res store.RotateResult) (store.User, error) {
	if !res.Outcome.HandsOutTokens() {
		return s.store.GetUser(ctx, res.Family.UserID)
	}
	if res.User == nil {
		return store.User{}, store.ErrNotFound
	}
	return *res.User, nil
}

// refreshWithoutRotation is the no-rotation fault: the presented token is
// checked but never rotated, and handed back as the "new" one.
func (s *Server) refreshWithoutRotation(r *http.Request, p params, presented string) (any, error) {
	ctx := r.Context()
	t, fam, err := s.store.GetRefreshToken(ctx, store.Hash(presented))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, oauth.InvalidGrant("refresh token is not valid")
	case err != nil:
		return nil, s.storeErr(r, "get refresh token", err)
	case fam.Revoked() || !t.RotatedAt.IsZero():
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenRevoked, "refresh token was revoked; sign in again")
	case !s.clock.Now().Before(t.ExpiresAt):
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenExpired, "refresh token has expired; sign in again")
	case p.get("client_id") != "" && p.get("client_id") != fam.ClientID:
		return nil, oauth.InvalidGrant("refresh token was issued to another client")
	}
	u, err := s.store.GetUser(ctx, fam.UserID)
	if err != nil {
		return nil, s.storeErr(r, "load user", err)
	}
	resp, err := s.issue(ctx, u, fam, presented, fam.CreatedAt)
	if err != nil {
		return nil, s.storeErr(r, "issue tokens", err)
	}
	return resp, nil
}
