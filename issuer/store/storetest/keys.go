package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	k1 := store.SigningKey{KID: "k1", Algorithm: "RS256", PrivatePEM: []byte("pem1"), CreatedAt: t0}
	got, err := s.EnsureActiveSigningKey(ctx, k1)
	must(t, err)
	if got.KID != "k1" || !bytes.Equal(got.PrivatePEM, []byte("pem1")) {
		t.Fatalf("ensure = %+v", got)
	}
	got, err = s.EnsureActiveSigningKey(ctx, store.SigningKey{KID: "k2", Algorithm: "RS256", PrivatePEM: []byte("x"), CreatedAt: t0})
	must(t, err)
	if got.KID != "k1" {
		t.Fatalf("second ensure replaced the active key: %s", got.KID)
	}
	must(t, s.RotateSigningKey(ctx, store.SigningKey{KID: "k3", Algorithm: "RS256", PrivatePEM: []byte("pem3"), CreatedAt: t0.Add(time.Hour)}, t0.Add(time.Hour), t0.Add(3*time.Hour)))
	wantErr(t, s.RotateSigningKey(ctx, store.SigningKey{KID: "k3", Algorithm: "RS256", PrivatePEM: []byte("p"), CreatedAt: t0}, t0, t0), store.ErrConflict)
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	active := 0
	for _, k := range keys {
		if k.Active() {
			active++
			if k.KID != "k3" {
				t.Fatalf("active key = %s", k.KID)
			}
		} else if k.KID == "k1" && !k.DropAfter.Equal(t0.Add(3*time.Hour)) {
			t.Fatalf("retired key drop-after = %v", k.DropAfter)
		}
	}
	if len(keys) != 2 || active != 1 {
		t.Fatalf("keys = %d, active = %d", len(keys), active)
	}
}

func testSecrets(t *testing.T, s store.Store) {
	ctx := context.Background()
	v, err := s.GetOrCreateSecret(ctx, "derive", []byte("first"))
	must(t, err)
	v2, err := s.GetOrCreateSecret(ctx, "derive", []byte("second"))
	must(t, err)
	if string(v) != "first" || string(v2) != "first" {
		t.Fatalf("secret = %q, %q", v, v2)
	}
}

func testConcurrentKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	kids := make([]string, Concurrency)
	errs := race(func(i int) error {
		k, err := s.EnsureActiveSigningKey(ctx, store.SigningKey{KID: fmt.Sprint("k", i), Algorithm: "RS256", PrivatePEM: []byte("p"), CreatedAt: t0})
		kids[i] = k.KID
		return err
	})
	for _, err := range errs {
		must(t, err)
	}
	for _, k := range kids {
		if k != kids[0] {
			t.Fatalf("replicas disagree on the active key: %v", kids)
		}
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != 1 {
		t.Fatalf("%d keys after a concurrent bootstrap, want 1", len(keys))
	}
}
