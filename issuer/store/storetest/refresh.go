package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func family(t *testing.T, s store.Store, id, first string) {
	t.Helper()
	must(t, s.CreateFamily(context.Background(),
		store.Family{ID: id, UserID: "alice", ClientID: "c", Scope: "openid", CreatedAt: t0},
		store.RefreshToken{Hash: first, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
}

func rotate(t *testing.T, s store.Store, presented, child string, at time.Duration, grace time.Duration) store.RotateResult {
	t.Helper()
	r, err := s.RotateRefreshToken(context.Background(), store.RotateParams{PresentedHash: presented, ChildHash: child,
		ChildExpiresAt: t0.Add(at + time.Hour), Now: t0.Add(at), Grace: grace})
	must(t, err)
	return r
}

func testRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	family(t, s, "f1", "r0")
	r := rotate(t, s, "r0", "r1", time.Second, 0)
	if r.Outcome != store.Rotated || r.Child.Hash != "r1" || r.Family.ID != "f1" || r.Family.UserID != "alice" {
		t.Fatalf("rotate = %+v", r)
	}
	r = rotate(t, s, "r1", "r2", 2*time.Second, 0)
	if r.Outcome != store.Rotated || r.Child.ParentHash != "r1" {
		t.Fatalf("second rotate = %+v", r)
	}
	tok, fam, err := s.GetRefreshToken(ctx, "r1")
	must(t, err)
	if tok.RotatedAt.IsZero() || tok.ChildHash != "r2" || fam.Revoked() {
		t.Fatalf("r1 after rotation = %+v %+v", tok, fam)
	}
	if r := rotate(t, s, "unknown", "x", 0, 0); r.Outcome != store.Unknown {
		t.Fatalf("unknown = %v", r.Outcome)
	}
	r, err = s.RotateRefreshToken(ctx, store.RotateParams{PresentedHash: "r2", ChildHash: "r3", ChildExpiresAt: t0.Add(time.Hour),
		Now: t0.Add(3 * time.Second), ClientID: "another-client"})
	must(t, err)
	if r.Outcome != store.WrongClient {
		t.Fatalf("another client's presentation = %v", r.Outcome)
	}
	if r := rotate(t, s, "r2", "r3", 4*time.Second, 0); r.Outcome != store.Rotated {
		t.Fatalf("a wrong-client presentation must not burn the token: %v", r.Outcome)
	}
	fams, err := s.ListFamilies(ctx, "alice")
	must(t, err)
	if len(fams) != 1 {
		t.Fatalf("families = %d", len(fams))
	}
}

func testReuse(t *testing.T, s store.Store) {
	ctx := context.Background()
	family(t, s, "f1", "r0")
	rotate(t, s, "r0", "r1", time.Second, 0)
	r := rotate(t, s, "r0", "r1", 2*time.Second, 0)
	if r.Outcome != store.Reused || !r.Family.Revoked() || r.Family.RevokeReason != "refresh_token_reused" {
		t.Fatalf("reuse = %+v", r)
	}
	// The newest token dies with its family.
	if r := rotate(t, s, "r1", "r2", 3*time.Second, 0); r.Outcome != store.FamilyRevoked {
		t.Fatalf("newest after reuse = %v", r.Outcome)
	}
	f, err := s.GetFamily(ctx, "f1")
	must(t, err)
	if !f.Revoked() {
		t.Fatal("family not revoked")
	}
}

func testGrace(t *testing.T, s store.Store) {
	family(t, s, "f1", "r0")
	rotate(t, s, "r0", "r1", time.Second, 10*time.Second)
	r := rotate(t, s, "r0", "r1", 5*time.Second, 10*time.Second)
	if r.Outcome != store.GraceReplay || r.Child.Hash != "r1" {
		t.Fatalf("grace replay = %+v", r)
	}
	// After the window it is reuse.
	if r := rotate(t, s, "r0", "r1", 12*time.Second, 10*time.Second); r.Outcome != store.Reused {
		t.Fatalf("after grace = %v", r.Outcome)
	}
	// Within the window but the child moved on: reuse as well, never a fork.
	family(t, s, "f2", "q0")
	rotate(t, s, "q0", "q1", time.Second, 10*time.Second)
	rotate(t, s, "q1", "q2", 2*time.Second, 10*time.Second)
	if r := rotate(t, s, "q0", "q1", 3*time.Second, 10*time.Second); r.Outcome != store.Reused {
		t.Fatalf("stale parent within grace = %v", r.Outcome)
	}
}

func testRefreshExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	family(t, s, "f1", "r0")
	if r := rotate(t, s, "r0", "r1", time.Hour, 0); r.Outcome != store.Expired {
		t.Fatalf("expired = %v", r.Outcome)
	}
	family(t, s, "f2", "q0")
	must(t, s.RevokeFamily(ctx, "f2", "logout", t0))
	must(t, s.RevokeFamily(ctx, "f2", "other", t0.Add(time.Second)))
	f, err := s.GetFamily(ctx, "f2")
	must(t, err)
	if f.RevokeReason != "logout" || !f.RevokedAt.Equal(t0) {
		t.Fatalf("first revocation must win: %+v", f)
	}
	if r := rotate(t, s, "q0", "q1", time.Second, 0); r.Outcome != store.FamilyRevoked {
		t.Fatalf("revoked = %v", r.Outcome)
	}
	wantErr(t, s.RevokeFamily(ctx, "nope", "x", t0), store.ErrNotFound)
}

func testAccess(t *testing.T, s store.Store) {
	ctx := context.Background()
	family(t, s, "f1", "r0")
	rec := store.AccessTokenRecord{JTI: "j1", FamilyID: "f1", UserID: "alice", ClientID: "c", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.RecordAccessToken(ctx, rec))
	wantErr(t, s.RecordAccessToken(ctx, rec), store.ErrConflict)
	got, err := s.GetAccessToken(ctx, "j1")
	must(t, err)
	if !got.RevokedAt.IsZero() || got.UserID != "alice" {
		t.Fatalf("live record = %+v", got)
	}
	must(t, s.RevokeFamily(ctx, "f1", "logout", t0.Add(time.Minute)))
	got, err = s.GetAccessToken(ctx, "j1")
	must(t, err)
	if got.RevokedAt.IsZero() {
		t.Fatal("access token must be revoked with its family")
	}
	must(t, s.RecordAccessToken(ctx, store.AccessTokenRecord{JTI: "j2", FamilyID: "none", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, s.RevokeAccessToken(ctx, "j2", t0))
	got, err = s.GetAccessToken(ctx, "j2")
	must(t, err)
	if got.RevokedAt.IsZero() {
		t.Fatal("revoked access token reads live")
	}
	wantErr(t, s.RevokeAccessToken(ctx, "j3", t0), store.ErrNotFound)
	_, err = s.GetAccessToken(ctx, "j3")
	wantErr(t, err, store.ErrNotFound)
}

func testConcurrentRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, grace := range []time.Duration{0, time.Minute} {
		fam := fmt.Sprint("fam-", grace)
		family(t, s, fam, "p-"+fam)
		results := make([]store.RotateResult, Concurrency)
		errs := race(func(i int) error {
			r, err := s.RotateRefreshToken(ctx, store.RotateParams{PresentedHash: "p-" + fam, ChildHash: "c-" + fam,
				ChildExpiresAt: t0.Add(time.Hour), Now: t0.Add(time.Second), Grace: grace})
			results[i] = r
			return err
		})
		counts := map[store.RotateOutcome]int{}
		for i, err := range errs {
			must(t, err)
			counts[results[i].Outcome]++
		}
		if counts[store.Rotated] != 1 {
			t.Fatalf("grace %v: %d rotations, want exactly 1 (%v)", grace, counts[store.Rotated], counts)
		}
		if grace == 0 && counts[store.Reused] != Concurrency-1 {
			t.Fatalf("grace 0: late presenters must be reuse: %v", counts)
		}
		if grace > 0 && counts[store.GraceReplay] != Concurrency-1 {
			t.Fatalf("grace: late presenters must get the same child: %v", counts)
		}
		f, err := s.GetFamily(ctx, fam)
		must(t, err)
		if (grace == 0) != f.Revoked() {
			t.Fatalf("grace %v: family revoked = %v", grace, f.Revoked())
		}
	}
}

func testGC(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateAuthCode(ctx, code("old")))
	must(t, s.CreateSession(ctx, store.Session{IDHash: "s", UserID: "a", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	family(t, s, "f1", "r0")
	must(t, s.UseNonce(ctx, "n", t0.Add(time.Minute)))
	n, err := s.DeleteExpired(ctx, t0.Add(2*time.Minute))
	must(t, err)
	if n < 2 { // session and nonce at least; code and refresh are retained a while
		t.Fatalf("collected %d rows, want ≥ 2", n)
	}
	if _, err := s.ConsumeAuthCode(ctx, "old", t0.Add(2*time.Minute), "f"); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("recently expired code must still be recognised, got %v", err)
	}
	must(t, s.UseNonce(ctx, "n", t0.Add(time.Hour))) // collected nonce may be reused
	n, err = s.DeleteExpired(ctx, t0.Add(48*time.Hour))
	must(t, err)
	if n < 2 {
		t.Fatalf("second collection %d rows", n)
	}
	if _, err := s.ConsumeAuthCode(ctx, "old", t0, "f"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old code not collected: %v", err)
	}
	if _, _, err := s.GetRefreshToken(ctx, "r0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old refresh token not collected: %v", err)
	}
}
