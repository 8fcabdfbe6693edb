package issuer

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/store"
)

// This file is the store seam of the fault catalogue (issuer/faults): a
// wrapper around the issuer's store.Store. With no fault on every call goes
// straight through. It also tells the route faults (fault_routes.go) what
// happened during a request: the rotation outcome, whether anything was
// revoked, the branch reuse-accepted minted.

// storeFaults are the catalogue's faults implemented here, in part
// (no-rotation and reuse-accepted also rewrite the token answer) or whole.
var storeFaults = []string{
	faults.NoRotation, faults.ReuseAccepted, faults.ReuseNoFamilyRevoke, faults.OutageAsExpired,
	faults.CodeReusable, faults.DeviceRedirectRejected, faults.AssertionReplay, faults.RevokeKeepsAccess,
	faults.SameSecondSignIn500,
}

type faultStore struct {
	store.Store
	faults *faults.Set
	// deviceCallback is where device codes are bound (contract §4.3) and
	// wrongCallback the URI device-redirect-rejected binds them to instead.
	deviceCallback, wrongCallback string
	// signIns are the (user, second) pairs that started a family, for
	// same-second-sign-in-500.
	signInsMu sync.Mutex
	signIns   map[string]bool
}

// CreateFamily: same-second-sign-in-500 fails a second sign-in of one user
// within one second as a unique index on identical tokens would, after the
// code was consumed.
func (f *faultStore) CreateFamily(ctx context.Context, fam store.Family, first store.RefreshToken) error {
	if f.faults.Has(faults.SameSecondSignIn500) {
		key := fam.UserID + "@" + strconv.FormatInt(fam.CreatedAt.Unix(), 10)
		f.signInsMu.Lock()
		dup := f.signIns[key]
		if f.signIns == nil {
			f.signIns = map[string]bool{}
		}
		f.signIns[key] = true
		f.signInsMu.Unlock()
		if dup {
			return errors.New(`duplicate key value violates unique constraint "access_tokens_pkey"`)
		}
	}
	return f.Store.CreateFamily(ctx, fam, first)
}

// RotateRefreshToken: no-rotation checks the token and rotates nothing;
// reuse-no-family-revoke refuses reuse but spares the family;
// reuse-accepted answers reuse with a new branch; outage-as-expired reports
// an outage as an expired token.
func (f *faultStore) RotateRefreshToken(ctx context.Context, p store.RotateParams) (store.RotateResult, error) {
	res, err := f.rotate(ctx, p)
	switch {
	case err != nil && f.faults.Has(faults.OutageAsExpired):
		return store.RotateResult{Outcome: store.Expired}, nil
	case err == nil && res.Outcome == store.Reused && f.faults.Has(faults.ReuseAccepted):
		res, err = f.fork(ctx, p, res.Family)
	}
	observed(ctx).rotation = res.Outcome
	return res, err
}

func (f *faultStore) rotate(ctx context.Context, p store.RotateParams) (store.RotateResult, error) {
	if f.faults.Has(faults.NoRotation) {
		return f.checkWithoutRotating(ctx, p)
	}
	if f.faults.Has(faults.ReuseNoFamilyRevoke) {
		if fam, reused := f.reusedFamily(ctx, p); reused {
			return store.RotateResult{Outcome: store.Reused, Family: fam}, nil // and no revocation
		}
	}
	return f.Store.RotateRefreshToken(ctx, p)
}

// reusedFamily reports whether rotating p would detect reuse, a rotated-out
// token presented outside the grace window (store.DecideRotation), and the
// token's family.
func (f *faultStore) reusedFamily(ctx context.Context, p store.RotateParams) (store.Family, bool) {
	t, fam, err := f.Store.GetRefreshToken(ctx, p.PresentedHash)
	if err != nil {
		return fam, false
	}
	child := func(hash string) (store.RefreshToken, bool) {
		c, _, err := f.Store.GetRefreshToken(ctx, hash)
		return c, err == nil
	}
	return fam, store.DecideRotation(t, fam, p, child).Outcome == store.Reused
}

// checkWithoutRotating judges the presented token as a rotation would, but
// leaves it live; the token answer then hands it back (fault_rewrites.go).
func (f *faultStore) checkWithoutRotating(ctx context.Context, p store.RotateParams) (store.RotateResult, error) {
	t, fam, err := f.Store.GetRefreshToken(ctx, p.PresentedHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.RotateResult{Outcome: store.Unknown}, nil
	case err != nil:
		return store.RotateResult{}, err
	case fam.Revoked() || !t.RotatedAt.IsZero():
		return store.RotateResult{Outcome: store.FamilyRevoked, Family: fam}, nil
	case !p.Now.Before(t.ExpiresAt):
		return store.RotateResult{Outcome: store.Expired, Family: fam}, nil
	case p.ClientID != "" && p.ClientID != fam.ClientID:
		return store.RotateResult{Outcome: store.WrongClient, Family: fam}, nil
	}
	return f.handOut(ctx, p, store.RotateResult{Outcome: store.Rotated, Family: fam, Presented: t})
}

// handOut does for a result made up here what a real rotation does in its
// transaction when it hands out tokens: record the access token and read
// the user.
func (f *faultStore) handOut(ctx context.Context, p store.RotateParams, res store.RotateResult) (store.RotateResult, error) {
	if p.Access != nil {
		if err := f.Store.RecordAccessToken(ctx, p.Access.ForFamily(res.Family)); err != nil {
			return store.RotateResult{}, err
		}
	}
	if u, err := f.Store.GetUser(ctx, res.Family.UserID); err == nil {
		res.User = &u
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.RotateResult{}, err
	}
	return res, nil
}

// fork starts a new family for a reused token's user: the branch that
// reuse detection exists to prevent.
func (f *faultStore) fork(ctx context.Context, p store.RotateParams, of store.Family) (store.RotateResult, error) {
	branch := store.Family{ID: "fam_" + random(16), UserID: of.UserID, ClientID: of.ClientID, Scope: of.Scope, CreatedAt: p.Now}
	token := newRefreshToken()
	first := store.RefreshToken{Hash: store.Hash(token), CreatedAt: p.Now, ExpiresAt: p.ChildExpiresAt}
	if err := f.Store.CreateFamily(ctx, branch, first); err != nil {
		return store.RotateResult{}, err
	}
	observed(ctx).fork = token
	return f.handOut(ctx, p, store.RotateResult{Outcome: store.Rotated, Family: branch})
}

// ConsumeAuthCode: code-reusable redeems a spent code again.
func (f *faultStore) ConsumeAuthCode(ctx context.Context, hash string, now time.Time, familyID string) (store.AuthCode, error) {
	c, err := f.Store.ConsumeAuthCode(ctx, hash, now, familyID)
	if errors.Is(err, store.ErrAlreadyUsed) && f.faults.Has(faults.CodeReusable) {
		c.FamilyID = familyID
		return c, nil
	}
	return c, err
}

// CreateAuthCode: device-redirect-rejected binds device codes to a URI
// other than the one codex redeems them with.
func (f *faultStore) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	if c.RedirectURI == f.deviceCallback && f.faults.Has(faults.DeviceRedirectRejected) {
		c.RedirectURI = f.wrongCallback
	}
	return f.Store.CreateAuthCode(ctx, c)
}

// UseNonce: assertion-replay forgets every AgentAssertion it is shown.
func (f *faultStore) UseNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	if strings.HasPrefix(nonce, assertionNoncePrefix) && f.faults.Has(faults.AssertionReplay) {
		return nil
	}
	return f.Store.UseNonce(ctx, nonce, expiresAt)
}

// GetAccessToken: revoke-keeps-access overlooks a revocation that came from
// the token's family rather than the token itself.
func (f *faultStore) GetAccessToken(ctx context.Context, jti string) (store.AccessTokenRecord, error) {
	rec, err := f.Store.GetAccessToken(ctx, jti)
	if err == nil && !rec.RevokedAt.IsZero() && f.faults.Has(faults.RevokeKeepsAccess) {
		if fam, ferr := f.Store.GetFamily(ctx, rec.FamilyID); ferr == nil && fam.Revoked() && fam.RevokedAt.Equal(rec.RevokedAt) {
			rec.RevokedAt = time.Time{}
		}
	}
	return rec, err
}

// RevokeFamily and RevokeAccessToken tell revoke-unknown-400 that the
// token was known.
func (f *faultStore) RevokeFamily(ctx context.Context, familyID, reason string, now time.Time) error {
	observed(ctx).revoked = true
	return f.Store.RevokeFamily(ctx, familyID, reason, now)
}

func (f *faultStore) RevokeAccessToken(ctx context.Context, jti string, now time.Time) error {
	observed(ctx).revoked = true
	return f.Store.RevokeAccessToken(ctx, jti, now)
}
