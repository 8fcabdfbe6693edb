package keys_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/keys"
	"github.com/codexauth/codexauth/issuer/store/memory"
)

func TestEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	m := keys.NewManager(st, clock.Real{}, "correct horse battery staple")
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	rows, _ := st.ListSigningKeys(ctx)
	if len(rows) != 1 || bytes.Contains(rows[0].PrivatePEM, []byte("PRIVATE KEY")) || !bytes.HasPrefix(rows[0].PrivatePEM, []byte("codexauth-enc-v1:")) {
		t.Fatalf("private key stored in the clear: %.60s", rows[0].PrivatePEM)
	}
	if err := keys.NewManager(st, clock.Real{}, "wrong").Init(ctx); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if err := keys.NewManager(st, clock.Real{}, "").Init(ctx); err == nil || !strings.Contains(err.Error(), "--key-passphrase") {
		t.Fatalf("missing passphrase: %v", err)
	}
	again := keys.NewManager(st, clock.Real{}, "correct horse battery staple")
	if err := again.Init(ctx); err != nil {
		t.Fatal(err)
	}
	k1, _ := m.Active(ctx)
	k2, _ := again.Active(ctx)
	if k1.KID != k2.KID || keys.KID(&k2.Private.PublicKey) != k2.KID {
		t.Fatalf("kid not stable across restarts: %s %s", k1.KID, k2.KID)
	}
}

func TestRotationOverlapThenDrop(t *testing.T) {
	ctx := context.Background()
	c := clock.NewFixed(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	m := keys.NewManager(memory.New(), c, "")
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	old, _ := m.Active(ctx)
	kid, err := m.Rotate(ctx, time.Hour)
	if err != nil || kid == old.KID {
		t.Fatalf("rotate: %s %v", kid, err)
	}
	doc := m.Document(ctx)
	if len(doc.Keys) != 2 {
		t.Fatalf("during the overlap both keys are published, got %d", len(doc.Keys))
	}
	if _, ok := m.Lookup(ctx, old.KID); !ok {
		t.Fatal("old key not usable during the overlap")
	}
	c.Add(time.Hour + time.Second)
	doc = m.Document(ctx)
	if len(doc.Keys) != 1 || doc.Keys[0].Kid != kid {
		t.Fatalf("after the overlap only the new key remains, got %+v", doc.Keys)
	}
	if _, ok := m.Lookup(ctx, old.KID); ok {
		t.Fatal("the dropped key still verifies")
	}
	pub, err := keys.ParseJWK(doc.Keys[0])
	if err != nil || pub.N.BitLen() != keys.Bits {
		t.Fatalf("JWK round trip: %v", err)
	}
}
