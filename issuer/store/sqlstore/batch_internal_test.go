package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// TestGroupCommitBatch drives one batch by hand: the rotations share a
// transaction (the second rotates the child the first created), a member
// that fails is retried alone and fails alone, and a member whose caller
// is gone is answered without being applied.
func TestGroupCommitBatch(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "batch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for _, f := range []string{"a", "b", "c"} {
		if err := s.CreateFamily(ctx, store.Family{ID: f, UserID: "u", ClientID: "c", CreatedAt: now},
			store.RefreshToken{Hash: f + "0", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordAccessToken(ctx, store.AccessTokenRecord{JTI: "taken", FamilyID: "c", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	call := func(ctx context.Context, presented, child, jti string) *rotateCall {
		return &rotateCall{ctx: ctx, done: make(chan struct{}), p: store.RotateParams{PresentedHash: presented, ChildHash: child,
			ChildExpiresAt: now.Add(time.Hour), Now: now, Access: &store.AccessTokenRecord{JTI: jti, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}}
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	batch := []*rotateCall{
		call(ctx, "a0", "a1", "j1"),
		call(ctx, "a1", "a2", "j2"), // sees the first one's successor
		call(ctx, "c0", "c1", "taken"),
		call(gone, "b0", "b1", "j3"),
	}
	s.batcher.commit(batch)
	for i, c := range batch {
		select {
		case <-c.done:
		default:
			t.Fatalf("call %d not answered", i)
		}
	}
	if batch[0].err != nil || batch[0].res.Outcome != store.Rotated || batch[1].err != nil || batch[1].res.Outcome != store.Rotated {
		t.Fatalf("chained rotations: %v %v / %v %v", batch[0].res.Outcome, batch[0].err, batch[1].res.Outcome, batch[1].err)
	}
	if batch[2].err == nil || batch[3].err == nil {
		t.Fatalf("failing member %v, cancelled member %v: both must fail", batch[2].err, batch[3].err)
	}
	for h, rotated := range map[string]bool{"a0": true, "a1": true, "a2": false, "c0": false, "b0": false} {
		tok, _, err := s.GetRefreshToken(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if got := !tok.RotatedAt.IsZero(); got != rotated {
			t.Errorf("%s rotated = %v, want %v", h, got, rotated)
		}
	}
	for _, jti := range []string{"j1", "j2"} {
		if _, err := s.GetAccessToken(ctx, jti); err != nil {
			t.Errorf("access %s: %v", jti, err)
		}
	}
	if _, err := s.GetAccessToken(ctx, "j3"); err == nil {
		t.Error("the cancelled member's access token was recorded")
	}
}
