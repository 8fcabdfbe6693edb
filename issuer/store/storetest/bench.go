package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// BenchmarkRotation measures one refresh-token rotation (the hot, atomic
// write of the token endpoint) on a backend.
func BenchmarkRotation(b *testing.B, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	fam := fmt.Sprint("bench-", now.UnixNano())
	if err := s.CreateFamily(ctx, store.Family{ID: fam, UserID: "u", ClientID: "c", CreatedAt: now},
		store.RefreshToken{Hash: fam + "-0", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := s.RotateRefreshToken(ctx, store.RotateParams{PresentedHash: fmt.Sprint(fam, "-", i), ChildHash: fmt.Sprint(fam, "-", i+1),
			ChildExpiresAt: now.Add(time.Hour), Now: now.Add(time.Duration(i) * time.Millisecond)})
		if err != nil || r.Outcome != store.Rotated {
			b.Fatalf("rotation %d: %v %v", i, r.Outcome, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
}
