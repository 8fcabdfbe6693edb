// Package storetest is the one behavioural suite every store backend must
// pass (in the spirit of dex's storage/conformance). A backend's test calls
// Run with a factory that returns a fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// Factory returns a new, empty store; Run closes it.
type Factory func(t *testing.T) store.Store

// Concurrency is how many goroutines race in the one-time-step tests.
var Concurrency = 32

// Run runs the whole suite.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Users", testUsers},
		{"AuthCodeConsumedOnce", testAuthCode},
		{"AuthCodeExpired", testAuthCodeExpired},
		{"DeviceLifecycle", testDevice},
		{"DeviceDeniedAndExpired", testDeviceDenied},
		{"RefreshRotation", testRotation},
		{"RefreshReuseRevokesFamily", testReuse},
		{"RefreshGraceReplay", testGrace},
		{"RefreshExpiredAndRevoked", testRefreshExpired},
		{"AccessTokensFollowFamily", testAccess},
		{"Sessions", testSessions},
		{"SigningKeys", testKeys},
		{"Secrets", testSecrets},
		{"AgentIdentities", testAgents},
		{"PersonalAccessTokens", testPATs},
		{"GarbageCollection", testGC},
		{"ConcurrentCodeConsume", testConcurrentCode},
		{"ConcurrentDeviceClaim", testConcurrentDevice},
		{"ConcurrentRotation", testConcurrentRotation},
		{"ConcurrentKeyBootstrap", testConcurrentKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %v", got, want)
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := store.User{ID: "alice", Email: "alice@example.com", AccountID: "acct-1", PlanType: "plus",
		Organizations: []store.Organization{{ID: "org-1", IsDefault: true}}, ExtraAuthClaims: map[string]any{"k": "v"}}
	must(t, s.PutUser(ctx, u))
	got, err := s.GetUser(ctx, "alice")
	must(t, err)
	if got.Email != u.Email || len(got.Organizations) != 1 || got.ExtraAuthClaims["k"] != "v" {
		t.Fatalf("round trip lost data: %+v", got)
	}
	u.PlanType = "pro"
	must(t, s.PutUser(ctx, u))
	must(t, s.PutUser(ctx, store.User{ID: "bob"}))
	all, err := s.ListUsers(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != "alice" || all[0].PlanType != "pro" {
		t.Fatalf("ListUsers = %+v", all)
	}
	must(t, s.DeleteUser(ctx, "bob"))
	_, err = s.GetUser(ctx, "bob")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteUser(ctx, "bob"), store.ErrNotFound)
}

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

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateSession(ctx, store.Session{IDHash: "s1", UserID: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	got, err := s.GetSession(ctx, "s1", t0.Add(time.Minute))
	must(t, err)
	if got.UserID != "alice" {
		t.Fatalf("session = %+v", got)
	}
	_, err = s.GetSession(ctx, "s1", t0.Add(time.Hour))
	wantErr(t, err, store.ErrExpired)
	must(t, s.DeleteSession(ctx, "s1"))
	_, err = s.GetSession(ctx, "s1", t0)
	wantErr(t, err, store.ErrNotFound)
}

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

func testAgents(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.AgentIdentity{RuntimeID: "rt1", UserID: "alice", AccountID: "acct", PublicKey: []byte{1, 2, 3}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateAgentIdentity(ctx, a))
	wantErr(t, s.CreateAgentIdentity(ctx, a), store.ErrConflict)
	got, err := s.GetAgentIdentity(ctx, "rt1")
	must(t, err)
	if !bytes.Equal(got.PublicKey, a.PublicKey) || !got.RevokedAt.IsZero() {
		t.Fatalf("agent = %+v", got)
	}
	must(t, s.CreateAgentTask(ctx, store.AgentTask{TaskID: "t1", RuntimeID: "rt1", Nonce: "n1", CreatedAt: t0}))
	wantErr(t, s.CreateAgentTask(ctx, store.AgentTask{TaskID: "t2", RuntimeID: "rt1", Nonce: "n1", CreatedAt: t0}), store.ErrConflict)
	must(t, s.CreateAgentTask(ctx, store.AgentTask{TaskID: "t3", RuntimeID: "rt1", Nonce: "n2", CreatedAt: t0.Add(time.Second)}))
	tasks, err := s.ListAgentTasks(ctx, "rt1")
	must(t, err)
	if len(tasks) != 2 || tasks[0].TaskID != "t1" {
		t.Fatalf("tasks = %+v", tasks)
	}
	task, err := s.GetAgentTask(ctx, "t3")
	must(t, err)
	if task.RuntimeID != "rt1" {
		t.Fatalf("task = %+v", task)
	}
	must(t, s.UseNonce(ctx, "a1", t0.Add(time.Minute)))
	wantErr(t, s.UseNonce(ctx, "a1", t0.Add(time.Minute)), store.ErrAlreadyUsed)
	must(t, s.RevokeAgentIdentity(ctx, "rt1", t0))
	got, err = s.GetAgentIdentity(ctx, "rt1")
	must(t, err)
	if got.RevokedAt.IsZero() {
		t.Fatal("agent not revoked")
	}
	all, err := s.ListAgentIdentities(ctx)
	must(t, err)
	if len(all) != 1 {
		t.Fatalf("agents = %d", len(all))
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

// race runs fn Concurrency times at once and returns the errors.
func race(fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, Concurrency)
	for i := 0; i < Concurrency; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}(i)
	}
	close(start)
	wg.Wait()
	return errs
}

// winners counts the nil errors; every other must be ErrAlreadyUsed.
func winners(t *testing.T, errs []error) int {
	t.Helper()
	n := 0
	for _, err := range errs {
		switch {
		case err == nil:
			n++
		case errors.Is(err, store.ErrAlreadyUsed):
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	return n
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

func testPATs(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := store.PersonalAccessToken{Hash: "h", UserID: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreatePAT(ctx, p))
	wantErr(t, s.CreatePAT(ctx, p), store.ErrConflict)
	got, err := s.GetPAT(ctx, "h")
	must(t, err)
	if got.UserID != "alice" || !got.ExpiresAt.Equal(p.ExpiresAt) || !got.RevokedAt.IsZero() {
		t.Fatalf("pat = %+v", got)
	}
	must(t, s.RevokePAT(ctx, "h", t0.Add(time.Minute)))
	must(t, s.RevokePAT(ctx, "h", t0.Add(2*time.Minute)))
	got, err = s.GetPAT(ctx, "h")
	must(t, err)
	if !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first revocation must win: %v", got.RevokedAt)
	}
	_, err = s.GetPAT(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.RevokePAT(ctx, "nope", t0), store.ErrNotFound)
}
