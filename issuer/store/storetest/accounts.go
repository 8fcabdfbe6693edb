package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

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
