package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// rotateWithAccess is one rotation attempt that asks the store to record
// access token jti with it.
func rotateWithAccess(t *testing.T, s store.Store, presented, child, jti string, at, grace time.Duration) store.RotateResult {
	t.Helper()
	r, err := s.RotateRefreshToken(context.Background(), store.RotateParams{PresentedHash: presented, ChildHash: child,
		ChildExpiresAt: t0.Add(at + time.Hour), Now: t0.Add(at), Grace: grace,
		Access: &store.AccessTokenRecord{JTI: jti, IssuedAt: t0.Add(at), ExpiresAt: t0.Add(at + time.Hour)}})
	must(t, err)
	return r
}

// testRotationRecordsAccessAndReadsUser: a rotation that hands out tokens
// records the access token in the same step, bound to the family, and
// returns the family's user; one that refuses records nothing.
func testRotationRecordsAccessAndReadsUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.PutUser(ctx, store.User{ID: "alice", Email: "alice@example.com", PlanType: "pro",
		Organizations: []store.Organization{{ID: "org-1", IsDefault: true}}}))
	family(t, s, "f1", "r0")

	r := rotateWithAccess(t, s, "r0", "r1", "jti-1", time.Second, time.Minute)
	if r.Outcome != store.Rotated || r.User == nil || r.User.ID != "alice" || r.User.PlanType != "pro" || len(r.User.Organizations) != 1 {
		t.Fatalf("rotation = %v, user %+v", r.Outcome, r.User)
	}
	rec, err := s.GetAccessToken(ctx, "jti-1")
	must(t, err)
	if rec.FamilyID != "f1" || rec.UserID != "alice" || rec.ClientID != "c" || !rec.ExpiresAt.Equal(t0.Add(time.Second+time.Hour)) || !rec.RevokedAt.IsZero() {
		t.Fatalf("access record = %+v", rec)
	}

	// A grace replay hands out tokens too: its access token is recorded.
	if r := rotateWithAccess(t, s, "r0", "r1", "jti-2", 2*time.Second, time.Minute); r.Outcome != store.GraceReplay || r.User == nil {
		t.Fatalf("grace replay = %v, user %+v", r.Outcome, r.User)
	}
	_, err = s.GetAccessToken(ctx, "jti-2")
	must(t, err)

	// Reuse refuses: nothing recorded, no user, and the recorded tokens
	// now read as revoked with their family.
	if r := rotateWithAccess(t, s, "r0", "r1", "jti-3", time.Hour, 0); r.Outcome != store.Reused || r.User != nil {
		t.Fatalf("reuse = %v, user %+v", r.Outcome, r.User)
	}
	_, err = s.GetAccessToken(ctx, "jti-3")
	wantErr(t, err, store.ErrNotFound)
	rec, err = s.GetAccessToken(ctx, "jti-1")
	must(t, err)
	if rec.RevokedAt.IsZero() {
		t.Fatal("the reused family's access token must read as revoked")
	}

	// A family whose user is gone rotates (the caller decides) without a user.
	must(t, s.CreateFamily(ctx, store.Family{ID: "f2", UserID: "ghost", ClientID: "c", CreatedAt: t0},
		store.RefreshToken{Hash: "g0", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	if r := rotateWithAccess(t, s, "g0", "g1", "jti-4", time.Second, 0); r.Outcome != store.Rotated || r.User != nil {
		t.Fatalf("rotation of a user-less family = %v, user %+v", r.Outcome, r.User)
	}
}

// testConcurrentChains: many chains rotating at once, as a busy issuer
// sees them (and as group commit batches them), each get exactly their own
// successors, and every access token is recorded once.
func testConcurrentChains(t *testing.T, s store.Store) {
	ctx := context.Background()
	const chains, steps = 16, 8
	for c := 0; c < chains; c++ {
		family(t, s, fmt.Sprint("fam-", c), fmt.Sprint("c", c, "-0"))
	}
	var wg sync.WaitGroup
	errs := make(chan error, chains)
	for c := 0; c < chains; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < steps; i++ {
				at := t0.Add(time.Duration(i+1) * time.Second)
				r, err := s.RotateRefreshToken(ctx, store.RotateParams{PresentedHash: fmt.Sprint("c", c, "-", i), ChildHash: fmt.Sprint("c", c, "-", i+1),
					ChildExpiresAt: at.Add(time.Hour), Now: at,
					Access: &store.AccessTokenRecord{JTI: fmt.Sprint("a", c, "-", i), IssuedAt: at, ExpiresAt: at.Add(time.Hour)}})
				if err == nil && (r.Outcome != store.Rotated || r.Family.ID != fmt.Sprint("fam-", c)) {
					err = fmt.Errorf("chain %d step %d: %v in family %s", c, i, r.Outcome, r.Family.ID)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for c := 0; c < chains; c++ {
		for i := 0; i < steps; i++ {
			rec, err := s.GetAccessToken(ctx, fmt.Sprint("a", c, "-", i))
			must(t, err)
			if rec.FamilyID != fmt.Sprint("fam-", c) {
				t.Fatalf("access token a%d-%d bound to %s", c, i, rec.FamilyID)
			}
		}
		tip, fam, err := s.GetRefreshToken(ctx, fmt.Sprint("c", c, "-", steps))
		must(t, err)
		if !tip.RotatedAt.IsZero() || fam.Revoked() {
			t.Fatalf("chain %d tip %+v family %+v", c, tip, fam)
		}
	}
}

// testRotationFailureIsolated: a rotation that fails (here: its access
// token id is taken) changes nothing, and rotations running beside it —
// which a backend may commit in the same transaction — are not affected.
func testRotationFailureIsolated(t *testing.T, s store.Store) {
	ctx := context.Background()
	family(t, s, "taken", "t0")
	rotateWithAccess(t, s, "t0", "t1", "jti-taken", time.Second, 0)
	const n = 12
	for i := 0; i < n; i++ {
		family(t, s, fmt.Sprint("f", i), fmt.Sprint("p", i))
	}
	errs := race(func(i int) error {
		if i >= n {
			return nil
		}
		jti := fmt.Sprint("jti-", i)
		if i == n/2 {
			jti = "jti-taken"
		}
		_, err := s.RotateRefreshToken(ctx, store.RotateParams{PresentedHash: fmt.Sprint("p", i), ChildHash: fmt.Sprint("q", i),
			ChildExpiresAt: t0.Add(time.Hour), Now: t0.Add(2 * time.Second),
			Access: &store.AccessTokenRecord{JTI: jti, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}})
		return err
	})
	for i := 0; i < n; i++ {
		tok, _, err := s.GetRefreshToken(ctx, fmt.Sprint("p", i))
		must(t, err)
		if i == n/2 {
			if errs[i] == nil || !tok.RotatedAt.IsZero() {
				t.Fatalf("the failing rotation: err %v, rotated %v (must fail and change nothing)", errs[i], tok.RotatedAt)
			}
			continue
		}
		if errs[i] != nil || tok.RotatedAt.IsZero() {
			t.Fatalf("rotation %d beside the failing one: err %v, rotated %v", i, errs[i], tok.RotatedAt)
		}
	}
}
