package issuer

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

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
	scope, scopeErr, live, lerr := s.refreshScope(r, presented, p.get("scope"))
	if lerr != nil {
		return nil, lerr
	}
	if scopeErr != nil && live {
		return nil, scopeErr // refused before the rotation: the token stays usable
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
	s.metrics.refresh.WithLabelValues(res.Outcome.String()).Inc()
	fam := res.Family
	switch res.Outcome {
	case store.Rotated, store.GraceReplay:
	case store.Reused:
		s.log.Warn("refresh token reuse detected; family revoked", "family", fam.ID, "user", fam.UserID)
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenReused, "refresh token was already used; its sign-in has been revoked, sign in again")
	case store.FamilyRevoked:
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenRevoked, "refresh token was revoked; sign in again")
	case store.Expired:
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenExpired, "refresh token has expired; sign in again")
	case store.WrongClient:
		return nil, oauth.InvalidGrant("refresh token was issued to another client")
	default:
		return nil, oauth.InvalidGrant("refresh token is not valid")
	}
	if scopeErr != nil {
		return nil, scopeErr // a grace replay: its child stays replayable
	}
	u, err := s.rotatedUser(ctx, res)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		_ = s.store.RevokeFamily(ctx, fam.ID, "user_removed", now)
		return nil, oauth.New(http.StatusUnauthorized, oauth.CodeRefreshTokenRevoked, "the user of this refresh token no longer exists or is disabled")
	} else if err != nil {
		return nil, s.storeErr(r, "load user", err)
	}
	if scope == "" {
		scope = fam.Scope
	}
	authn := s.authnOr(presented, fam.CreatedAt)
	var resp tokenResponse
	if res.Outcome.HandsOutTokens() { // the rotation recorded the access token
		resp, err = s.mint(ctx, u, fam, child, authn, scope, access.JTI, now)
	} else {
		resp, err = s.issue(ctx, u, fam, child, authn, scope)
	}
	if err != nil {
		return nil, s.storeErr(r, "issue tokens", err)
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

// refreshScope checks the scope a refresh asks for (RFC 6749 §6): it may
// narrow what the grant holds, never add to it (400 invalid_scope, §5.2).
// scope is what to grant ("" for the grant's whole scope); refuse the
// verdict on a broader one. For a live token it is judged before the
// rotation, so a refused request spends nothing; a rotated-out token goes
// through the rotation first, so that reuse detection still sees it.
func (s *Server) refreshScope(r *http.Request, presented, requested string) (scope string, refuse *oauth.Error, live bool, err *oauth.Error) {
	asked := strings.Fields(requested)
	if len(asked) == 0 {
		return "", nil, false, nil
	}
	t, fam, gerr := s.store.GetRefreshToken(r.Context(), store.Hash(presented))
	switch {
	case errors.Is(gerr, store.ErrNotFound):
		return "", nil, false, nil // the rotation answers for an unknown token
	case gerr != nil:
		return "", nil, false, s.storeErr(r, "look up refresh token", gerr)
	}
	granted := strings.Fields(fam.Scope)
	for _, sc := range asked {
		if !slices.Contains(granted, sc) {
			return "", oauth.New(http.StatusBadRequest, codeInvalidScope, "scope %q was not granted to this refresh token; a refresh may only narrow the scope", sc),
				t.RotatedAt.IsZero(), nil
		}
	}
	return strings.Join(asked, " "), nil, t.RotatedAt.IsZero(), nil
}

// codeInvalidScope is RFC 6749 §5.2's answer to a scope beyond the grant.
const codeInvalidScope = "invalid_scope"
