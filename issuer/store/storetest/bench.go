package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
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

// BenchmarkConcurrentRotation measures rotations of 16 chains at once,
// each rotating its own family as a busy issuer does: what group commit
// (several rotations per transaction and fsync) buys over one at a time.
func BenchmarkConcurrentRotation(b *testing.B, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	var next atomic.Int64
	b.SetParallelism(8) // × GOMAXPROCS goroutines; 16 on the 2-core machine
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		fam := fmt.Sprint("bench-par-", now.UnixNano(), "-", next.Add(1))
		if err := s.CreateFamily(ctx, store.Family{ID: fam, UserID: "u", ClientID: "c", CreatedAt: now},
			store.RefreshToken{Hash: fam + "-0", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			r, err := s.RotateRefreshToken(ctx, store.RotateParams{PresentedHash: fmt.Sprint(fam, "-", i), ChildHash: fmt.Sprint(fam, "-", i+1),
				ChildExpiresAt: now.Add(time.Hour), Now: now.Add(time.Duration(i) * time.Millisecond)})
			if err != nil || r.Outcome != store.Rotated {
				b.Errorf("rotation %d: %v %v", i, r.Outcome, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
}
