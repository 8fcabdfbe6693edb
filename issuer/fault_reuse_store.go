package issuer

import (
	"context"

	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/store"
)

// reuseKeepsFamilyStore implements the reuse-no-family-revoke fault as a
// store wrapper, outside the store contract: while the fault is on, a
// rotation attempt that the rules call reuse is answered as reuse without
// reaching the backend, so the family is never revoked (contract §6.5 is
// what the suite then catches). Not atomic, which a defect may be.
type reuseKeepsFamilyStore struct {
	store.Store
	faults *faults.Set
}

func (r reuseKeepsFamilyStore) RotateRefreshToken(ctx context.Context, p store.RotateParams) (store.RotateResult, error) {
	if !r.faults.Has(faults.ReuseNoFamilyRevoke) {
		return r.Store.RotateRefreshToken(ctx, p)
	}
	t, f, err := r.Store.GetRefreshToken(ctx, p.PresentedHash)
	if err != nil {
		return r.Store.RotateRefreshToken(ctx, p) // unknown tokens and outages: the backend's answer
	}
	d := store.DecideRotation(t, f, p, func(h string) (store.RefreshToken, bool) {
		c, _, err := r.Store.GetRefreshToken(ctx, h)
		return c, err == nil
	})
	if d.Outcome != store.Reused {
		return r.Store.RotateRefreshToken(ctx, p)
	}
	return store.RotateResult{Outcome: store.Reused, Family: f, Presented: t}, nil
}
