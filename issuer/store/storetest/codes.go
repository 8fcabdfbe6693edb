package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func code(h string) store.AuthCode {
	return store.AuthCode{Hash: h, ClientID: "c", RedirectURI: "http://127.0.0.1:1455/auth/callback", CodeChallenge: "ch", Scope: "openid", UserID: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
}

func testAuthCode(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateAuthCode(ctx, code("h1")))
	wantErr(t, s.CreateAuthCode(ctx, code("h1")), store.ErrConflict)
	c, err := s.ConsumeAuthCode(ctx, "h1", t0.Add(time.Second), "fam-1")
	must(t, err)
	if c.ClientID != "c" || c.RedirectURI == "" || c.CodeChallenge != "ch" || c.UserID != "alice" || c.FamilyID != "fam-1" {
		t.Fatalf("consumed code = %+v", c)
	}
	c, err = s.ConsumeAuthCode(ctx, "h1", t0.Add(2*time.Second), "fam-2")
	wantErr(t, err, store.ErrAlreadyUsed)
	if c.FamilyID != "fam-1" {
		t.Fatalf("replay must report the first exchange's family, got %q", c.FamilyID)
	}
	_, err = s.ConsumeAuthCode(ctx, "nope", t0, "f")
	wantErr(t, err, store.ErrNotFound)
}

func testAuthCodeExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateAuthCode(ctx, code("h2")))
	_, err := s.ConsumeAuthCode(ctx, "h2", t0.Add(time.Minute), "f")
	wantErr(t, err, store.ErrExpired)
	_, err = s.ConsumeAuthCode(ctx, "h2", t0.Add(time.Second), "f")
	wantErr(t, err, store.ErrAlreadyUsed)
}

func device(id, uc string) store.DeviceCode {
	return store.DeviceCode{IDHash: id, UserCodeHash: uc, ClientID: "c", Status: store.DevicePending, CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
}

func testDevice(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateDeviceCode(ctx, device("d1", "u1")))
	wantErr(t, s.CreateDeviceCode(ctx, device("d2", "u1")), store.ErrConflict) // live user code is unique
	d, err := s.GetDeviceCodeByUserCode(ctx, "u1")
	must(t, err)
	if d.IDHash != "d1" || d.Status != store.DevicePending {
		t.Fatalf("by user code = %+v", d)
	}
	_, err = s.ClaimDeviceCode(ctx, "d1", t0.Add(time.Second))
	wantErr(t, err, store.ErrPending)
	d, err = s.DecideDeviceCode(ctx, "u1", true, "alice", t0.Add(2*time.Second))
	must(t, err)
	if d.Status != store.DeviceApproved || d.UserID != "alice" {
		t.Fatalf("approved = %+v", d)
	}
	_, err = s.DecideDeviceCode(ctx, "u1", false, "", t0.Add(3*time.Second))
	wantErr(t, err, store.ErrConflict)
	d, err = s.ClaimDeviceCode(ctx, "d1", t0.Add(4*time.Second))
	must(t, err)
	if d.UserID != "alice" || d.ClientID != "c" {
		t.Fatalf("claimed = %+v", d)
	}
	_, err = s.ClaimDeviceCode(ctx, "d1", t0.Add(5*time.Second))
	wantErr(t, err, store.ErrAlreadyUsed)
	_, err = s.ClaimDeviceCode(ctx, "zz", t0)
	wantErr(t, err, store.ErrNotFound)
	got, err := s.GetDeviceCode(ctx, "d1")
	must(t, err)
	if got.Status != store.DeviceExchanged {
		t.Fatalf("status = %s", got.Status)
	}
}

func testDeviceDenied(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateDeviceCode(ctx, device("d1", "u1")))
	must(t, s.CreateDeviceCode(ctx, device("d2", "u2")))
	_, err := s.DecideDeviceCode(ctx, "u1", false, "", t0)
	must(t, err)
	_, err = s.ClaimDeviceCode(ctx, "d1", t0)
	wantErr(t, err, store.ErrDenied)
	_, err = s.ClaimDeviceCode(ctx, "d2", t0.Add(15*time.Minute))
	wantErr(t, err, store.ErrExpired)
	_, err = s.DecideDeviceCode(ctx, "u2", true, "alice", t0.Add(16*time.Minute))
	wantErr(t, err, store.ErrExpired)
	_, err = s.DecideDeviceCode(ctx, "nope", true, "alice", t0)
	wantErr(t, err, store.ErrNotFound)
}

func testConcurrentCode(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateAuthCode(ctx, code("c")))
	errs := race(func(i int) error {
		_, err := s.ConsumeAuthCode(ctx, "c", t0.Add(time.Second), fmt.Sprint("f", i))
		return err
	})
	if w := winners(t, errs); w != 1 {
		t.Fatalf("%d goroutines consumed one code", w)
	}
}

func testConcurrentDevice(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateDeviceCode(ctx, device("d", "u")))
	_, err := s.DecideDeviceCode(ctx, "u", true, "alice", t0)
	must(t, err)
	errs := race(func(int) error { _, err := s.ClaimDeviceCode(ctx, "d", t0.Add(time.Second)); return err })
	if w := winners(t, errs); w != 1 {
		t.Fatalf("%d goroutines claimed one device code", w)
	}
}
