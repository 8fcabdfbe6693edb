package issuer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/store/memory"
)

const secret = "validate-secret-0123456789"

func (e *env) validate(sec string, body map[string]string) resp {
	b, _ := json.Marshal(body)
	hdr := []string{}
	if sec != "" {
		hdr = append(hdr, "X-Internal-Secret", sec)
	}
	return e.do("POST", "/internal/codex-auth/validate", "application/json", string(b), hdr...)
}

func (e *env) mintAgent(user string) wire.AgentIdentity {
	e.t.Helper()
	r := e.admin("POST", "/agent-identities", map[string]string{"user": user})
	a, err := wire.ParseAgentIdentity(r.str("jwt"))
	if err != nil || a.KeyErr != nil {
		e.t.Fatalf("mint: %v %v %s", err, a.KeyErr, r.body)
	}
	return a
}

func (e *env) task(a wire.AgentIdentity) string {
	e.t.Helper()
	ts := wire.Timestamp(e.srv.Clock().Now())
	c := wire.NewClient(e.url, "")
	ex := c.RegisterTask(context.Background(), a, ts, nil)
	id, err := wire.TaskID(ex)
	if err != nil {
		e.t.Fatalf("register task: %v", err)
	}
	return id
}

func TestValidateRefusesWithDocumentedReasons(t *testing.T) {
	e := start(t, func(c *issuer.Config) { c.InternalSecret = secret })
	now := func() string { return wire.Timestamp(e.srv.Clock().Now()) }
	login := e.browserLogin("alice")
	alice := e.mintAgent("alice")
	bob := e.mintAgent("bob")
	aliceTask, bobTask := e.task(alice), e.task(bob)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)

	fresh := wire.Assertion(alice.RuntimeID, aliceTask, now(), alice.Key)
	if r := e.validate(secret, map[string]string{"scheme": "agent_assertion", "assertion": fresh}); r.status != 200 || r.str("user_id") != "alice" {
		t.Fatalf("fresh assertion: %d %s", r.status, r.body)
	}
	if r := e.validate(secret, map[string]string{"scheme": "bearer", "token": login.str("access_token"), "account_id": "acct_alice"}); r.status != 200 || r.str("user_id") != "alice" {
		t.Fatalf("live bearer: %d %s", r.status, r.body)
	}
	e.postJSON("/oauth/revoke", map[string]string{"token": login.str("refresh_token"), "token_type_hint": "refresh_token"})
	cases := []struct {
		name, secret string
		body         map[string]string
		code         string
	}{
		{"replayed assertion", secret, map[string]string{"scheme": "agent_assertion", "assertion": fresh}, "replayed"},
		{"stale assertion", secret, map[string]string{"scheme": "agent_assertion", "assertion": wire.Assertion(alice.RuntimeID, aliceTask, wire.Timestamp(e.srv.Clock().Now().Add(-6*time.Minute)), alice.Key)}, "assertion_stale"},
		{"forged assertion", secret, map[string]string{"scheme": "agent_assertion", "assertion": wire.Assertion(alice.RuntimeID, aliceTask, now(), stranger)}, "invalid_signature"},
		{"another agent's task", secret, map[string]string{"scheme": "agent_assertion", "assertion": wire.Assertion(alice.RuntimeID, bobTask, now(), alice.Key)}, "task_agent_mismatch"},
		{"unknown task", secret, map[string]string{"scheme": "agent_assertion", "assertion": wire.Assertion(alice.RuntimeID, "task_nope", now(), alice.Key)}, "unknown_task"},
		{"malformed assertion", secret, map[string]string{"scheme": "agent_assertion", "assertion": "!!"}, "malformed"},
		{"bearer of a revoked family", secret, map[string]string{"scheme": "bearer", "token": login.str("access_token")}, "token_revoked"},
		{"garbage bearer", secret, map[string]string{"scheme": "bearer", "token": "x.y.z"}, "invalid_token"},
		{"id_token as bearer", secret, map[string]string{"scheme": "bearer", "token": login.str("id_token")}, "invalid_token"},
		{"wrong secret", "wrong-secret-000000000000", map[string]string{"scheme": "bearer", "token": login.str("access_token")}, "invalid_secret"},
		{"no secret", "", map[string]string{"scheme": "bearer", "token": login.str("access_token")}, "invalid_secret"},
		{"unknown scheme", secret, map[string]string{"scheme": "basic"}, "invalid_request"},
	}
	for _, tc := range cases {
		r := e.validate(tc.secret, tc.body)
		want := 401
		if tc.code == "invalid_request" {
			want = 400
		}
		if r.status != want || r.str("error") != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, want, tc.code)
		}
	}
	e.admin("POST", "/agent-identities/"+bob.RuntimeID+"/revoke", nil)
	r := e.validate(secret, map[string]string{"scheme": "agent_assertion", "assertion": wire.Assertion(bob.RuntimeID, bobTask, now(), bob.Key)})
	if r.status != 401 || r.str("error") != "agent_revoked" {
		t.Errorf("revoked agent: %d %s", r.status, r.body)
	}
	e.admin("POST", "/outage", map[string]bool{"enabled": true})
	r = e.validate(secret, map[string]string{"scheme": "agent_assertion", "assertion": wire.Assertion(alice.RuntimeID, aliceTask, now(), alice.Key)})
	if r.status != 503 {
		t.Errorf("store outage: %d %s, want 503", r.status, r.body)
	}
}

func TestValidateAbsentWithoutSecret(t *testing.T) {
	e := start(t, nil)
	if r := e.validate("anything-anything", map[string]string{"scheme": "bearer", "token": "x"}); r.status != 404 {
		t.Fatalf("validate without a configured secret: %d (must not exist)", r.status)
	}
}

func TestTaskRegistration(t *testing.T) {
	e := start(t, nil)
	a := e.mintAgent("alice")
	c := wire.NewClient(e.url, "")
	ctx := context.Background()
	ts := wire.Timestamp(e.srv.Clock().Now())
	first := c.RegisterTask(ctx, a, ts, nil)
	again := c.RegisterTask(ctx, a, ts, nil)
	id1, _ := wire.TaskID(first)
	id2, _ := wire.TaskID(again)
	if id1 == "" || id1 != id2 {
		t.Fatalf("repeated registration must return the same task: %s / %s", first, again)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for name, ex := range map[string]*wire.Exchange{
		"bad signature":   c.RegisterTask(ctx, a, wire.Timestamp(e.srv.Clock().Now().Add(time.Second)), other),
		"stale timestamp": c.RegisterTask(ctx, a, wire.Timestamp(e.srv.Clock().Now().Add(-10*time.Minute)), nil),
		"unknown agent":   c.RegisterTaskRaw(ctx, "agent_nope", ts, "c2ln"),
		"bad timestamp":   c.RegisterTaskRaw(ctx, a.RuntimeID, "yesterday", "c2ln"),
	} {
		if ex.Status < 400 || ex.Status >= 500 || ex.Status == 429 {
			t.Errorf("%s: %s (codex treats only 4xx other than 429 as final)", name, ex)
		}
	}
}

// BenchmarkValidate measures validations per second through the HTTP
// handler (memory store): a bearer access token and an AgentAssertion.
func BenchmarkValidate(b *testing.B) {
	ctx := context.Background()
	hs := httptest.NewUnstartedServer(nil)
	st := memory.New()
	_ = issuer.SeedUsers(ctx, st, issuer.DefaultUsers())
	srv, err := issuer.New(ctx, issuer.Config{PublicURL: "http://" + hs.Listener.Addr().String(), Store: st, AdminToken: adminToken, InternalSecret: secret, GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	defer hs.Close()
	e := &env{t: &testing.T{}, srv: srv, http: hs, url: "http://" + hs.Listener.Addr().String()}
	login := e.browserLogin("alice")
	h := srv.Handler()
	call := func(body string) int {
		req := httptest.NewRequest("POST", "/internal/codex-auth/validate", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Internal-Secret", secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	b.Run("bearer", func(b *testing.B) {
		body := `{"scheme":"bearer","token":"` + login.str("access_token") + `"}`
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if code := call(body); code != http.StatusOK {
				b.Fatalf("status %d", code)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
	})
	b.Run("assertion", func(b *testing.B) {
		// Each assertion is single use and Ed25519 is deterministic:
		// pre-sign distinct ones (64 tasks × 250 one-second timestamps).
		a := e.mintAgent("alice") // fresh key per round: no signature repeats
		tasks := make([]string, 64)
		c := wire.NewClient(e.url, "")
		for i := range tasks {
			ex := c.RegisterTask(ctx, a, wire.Timestamp(srv.Clock().Now().Add(-time.Duration(i)*time.Second)), nil)
			if tasks[i], err = wire.TaskID(ex); err != nil {
				b.Fatal(err)
			}
		}
		bodies := make([]string, b.N)
		base := srv.Clock().Now()
		for i := range bodies {
			ts := wire.Timestamp(base.Add(-time.Duration(i/len(tasks)%250) * time.Second))
			bodies[i] = `{"scheme":"agent_assertion","assertion":"` + wire.Assertion(a.RuntimeID, tasks[i%len(tasks)], ts, a.Key) + `"}`
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if code := call(bodies[i]); code != http.StatusOK {
				b.Fatalf("status %d at %d", code, i)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
	})
}
