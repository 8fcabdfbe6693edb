package main_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/internal/testutil"
	"github.com/codexauth/codexauth/issuer/store/storetest"
)

type proc = testutil.Serve

// startServe runs `codexauth serve`; addr may be fixed so a restarted
// process keeps its URL (the issuer's identity).
func startServe(t *testing.T, addr string, args ...string) *proc {
	t.Helper()
	return testutil.StartServe(t, bin, addr, args...)
}

func freePort(t *testing.T) string {
	t.Helper()
	p := startServe(t, "127.0.0.1:0", "--store", "memory")
	addr := strings.TrimPrefix(p.URL, "http://")
	_ = p.Cmd.Process.Kill()
	_, _ = p.Cmd.Process.Wait()
	return addr
}

const replicaAdmin = "replica-admin-token-0123"

// login gets a fresh refresh token from p via the device flow (admin approval).
func login(t *testing.T, ctx context.Context, p *proc) string {
	t.Helper()
	target := &harness.Target{Issuer: p.URL, Client: wire.NewClient(p.URL, ""), Admin: harness.NewAdmin(p.URL, replicaAdmin)}
	target.Approver = harness.AdminApprover{Admin: target.Admin, User: "alice"}
	toks, err := target.DeviceLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return toks.RefreshToken
}

func setGrace(t *testing.T, ctx context.Context, grace time.Duration, ps ...*proc) {
	t.Helper()
	for _, p := range ps {
		body := fmt.Sprintf(`{"reuse_grace_seconds":%g}`, grace.Seconds())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, p.URL+"/__admin/settings", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+replicaAdmin)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("set grace on %s: %v", p.URL, err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("set grace on %s: %d", p.URL, res.StatusCode)
		}
	}
}

// both presents one refresh token to both replicas at the same instant.
func both(ctx context.Context, a, b *proc, rt string) (*wire.Exchange, *wire.Exchange) {
	var ea, eb *wire.Exchange
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-start
		ea = wire.NewClient(a.URL, "").Refresh(ctx, rt, "unauthorized_recovery")
	}()
	go func() {
		defer wg.Done()
		<-start
		eb = wire.NewClient(b.URL, "").Refresh(ctx, rt, "unauthorized_recovery")
	}()
	close(start)
	wg.Wait()
	return ea, eb
}

// TestTwoReplicasOnePostgres: two `codexauth serve` processes share one
// PostgreSQL database. The same refresh token presented to both at once,
// 200 times, never yields two different live successors; a device code is
// exchanged once across both.
func TestTwoReplicasOnePostgres(t *testing.T) {
	db := storetest.FreshPostgres(t, storetest.PostgresDSN(t))
	ctx := context.Background()
	// Start both at once on the empty database: migrations run once and
	// they end with one active signing key between them.
	var a, b *proc
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		a = startServe(t, "127.0.0.1:0", "--store", db, "--admin-token", replicaAdmin)
	}()
	go func() {
		defer wg.Done()
		b = startServe(t, "127.0.0.1:0", "--store", db, "--admin-token", replicaAdmin)
	}()
	wg.Wait()
	if a == nil || b == nil {
		t.FailNow()
	}
	ja := wire.NewClient(a.URL, "").Get(ctx, "/.well-known/jwks.json", nil)
	jb := wire.NewClient(b.URL, "").Get(ctx, "/.well-known/jwks.json", nil)
	if ja.Status != 200 || string(ja.Body) != string(jb.Body) || strings.Count(string(ja.Body), `"kid"`) != 1 {
		t.Fatalf("replicas started together disagree on signing keys:\n%s\n%s", ja.Body, jb.Body)
	}

	// With a grace window both replicas must hand out the very same child.
	setGrace(t, ctx, 30*time.Second, a, b)
	rt := login(t, ctx, a)
	for i := 0; i < 200; i++ {
		ea, eb := both(ctx, a, b, rt)
		if ea.Status != 200 || eb.Status != 200 {
			t.Fatalf("round %d with grace: %s | %s", i, ea, eb)
		}
		ca, cb := ea.Str("refresh_token"), eb.Str("refresh_token")
		if ca != cb || ca == "" || ca == rt {
			t.Fatalf("round %d: two live successors %q and %q of one token", i, ca, cb)
		}
		rt = ca
	}

	// Without one, exactly one replica wins and the loser's presentation is
	// reuse, which revokes the family (so no live child at all remains).
	setGrace(t, ctx, 0, a, b)
	for i := 0; i < 50; i++ {
		rt := login(t, ctx, a)
		ea, eb := both(ctx, a, b, rt)
		wins := 0
		var child string
		for _, ex := range []*wire.Exchange{ea, eb} {
			switch {
			case ex.Status == 200:
				wins++
				child = ex.Str("refresh_token")
			case wire.ErrorCode(ex.Body) == "refresh_token_reused":
			default:
				t.Fatalf("round %d: unexpected %s", i, ex)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d replicas rotated the same token", i, wins)
		}
		if ex := wire.NewClient(b.URL, "").Refresh(ctx, child, "forced"); ex.Status == 200 {
			t.Fatalf("round %d: the winner's child survived reuse detection: %s", i, ex)
		}
	}

	// A device code is exchanged once across both replicas.
	for i := 0; i < 20; i++ {
		c := wire.NewClient(a.URL, "")
		d, ex := c.RequestDeviceCode(ctx)
		if ex.Status != 200 {
			t.Fatal(ex)
		}
		if err := harness.NewAdmin(b.URL, replicaAdmin).ApproveDevice(ctx, d.UserCode, "alice"); err != nil {
			t.Fatal(err)
		}
		var pa, pb *wire.Exchange
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); pa = wire.NewClient(a.URL, "").DevicePoll(ctx, d) }()
		go func() { defer wg.Done(); pb = wire.NewClient(b.URL, "").DevicePoll(ctx, d) }()
		wg.Wait()
		if (pa.Status == 200) == (pb.Status == 200) {
			t.Fatalf("device code %d: replica answers %d and %d, want exactly one grant", i, pa.Status, pb.Status)
		}
	}
}

// crashUnderLoad runs refresh clients against an issuer, kill -9s it
// mid-load, restarts it on the same store and checks that every client's
// latest refresh token — the last one it saw succeed — still works.
func crashUnderLoad(t *testing.T, store string) {
	ctx := context.Background()
	addr := freePort(t)
	args := []string{"--store", store, "--admin-token", replicaAdmin, "--reuse-grace", "60s"}
	p := startServe(t, addr, args...)
	const clients = 8
	latest := make([]string, clients)
	for i := range latest {
		latest[i] = login(t, ctx, p)
	}
	var stop atomic.Bool
	var rotations atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := wire.NewClient(p.URL, "")
			c.HTTP.Timeout = 2 * time.Second
			for !stop.Load() {
				ex := c.Refresh(ctx, latest[i], "proactive_expiry")
				if ex.Err == nil && ex.Status == 200 {
					latest[i] = ex.Str("refresh_token")
					rotations.Add(1)
				} else if ex.Err == nil && ex.Status != 200 {
					t.Errorf("client %d: refresh refused before the crash: %s", i, ex)
					return
				}
			}
		}(i)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = p.Cmd.Process.Wait()
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d rotations seen by clients before kill -9", rotations.Load())
	if rotations.Load() < clients {
		t.Fatalf("the load did not get going: %d rotations", rotations.Load())
	}
	p2 := startServe(t, addr, args...)
	c := wire.NewClient(p2.URL, "")
	for i, rt := range latest {
		if ex := c.Refresh(ctx, rt, "proactive_expiry"); ex.Status != 200 {
			t.Errorf("client %d: its latest refresh token was lost in the crash: %s", i, ex)
		}
	}
}

func TestCrashLosesNoRotationSQLite(t *testing.T) {
	crashUnderLoad(t, "sqlite:"+filepath.Join(t.TempDir(), "crash.db"))
}

func TestCrashLosesNoRotationPostgres(t *testing.T) {
	crashUnderLoad(t, storetest.FreshPostgres(t, storetest.PostgresDSN(t)))
}

// TestPostgresOutageIsTransient stops its own throwaway cluster under a
// running issuer: refreshes get 503 temporarily_unavailable (never a token
// error), /readyz turns unready, and everything recovers by itself when
// PostgreSQL is back.
func TestPostgresOutageIsTransient(t *testing.T) {
	pg := exec.Command("bash", filepath.Join(testutil.RepoRoot(), "scripts", "pg.sh"))
	out, _ := pg.StdoutPipe()
	pg.Stderr = os.Stderr
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Process.Signal(syscall.SIGTERM); _ = pg.Wait() })
	sc := bufio.NewScanner(out)
	var dsn, ctl string
	if sc.Scan() {
		dsn = sc.Text()
	}
	if sc.Scan() {
		ctl = sc.Text()
	}
	if !strings.HasPrefix(dsn, "postgres://") || ctl == "" {
		t.Fatalf("scripts/pg.sh did not start a cluster (PostgreSQL server binaries are needed): %q %q", dsn, ctl)
	}
	ctx := context.Background()
	p := startServe(t, "127.0.0.1:0", "--store", dsn, "--admin-token", replicaAdmin)
	rt := login(t, ctx, p)
	c := wire.NewClient(p.URL, "")
	ready := func() int { return c.Get(ctx, "/readyz", nil).Status }
	if ready() != 200 {
		t.Fatal("not ready before the outage")
	}
	if b, err := exec.Command(ctl, "stop", "-m", "fast").CombinedOutput(); err != nil {
		t.Fatalf("stop PostgreSQL: %v %s", err, b)
	}
	ex := c.Refresh(ctx, rt, "proactive_expiry")
	if ex.Status != 503 || wire.ErrorCode(ex.Body) != "temporarily_unavailable" {
		t.Fatalf("refresh during the outage: %s", ex)
	}
	if class, _ := wire.ClassifyRefresh(ex.Status, ex.Body); class != wire.RefreshTransient {
		t.Fatalf("codex would treat the outage answer as %s", class)
	}
	if st := ready(); st != 503 {
		t.Fatalf("/readyz during the outage: %d", st)
	}
	if b, err := exec.Command(ctl, "start").CombinedOutput(); err != nil {
		t.Fatalf("start PostgreSQL: %v %s", err, b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for ready() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the issuer did not become ready again after PostgreSQL came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ex := c.Refresh(ctx, rt, "proactive_expiry"); ex.Status != 200 {
		t.Fatalf("the token did not work again after the outage: %s", ex)
	}
}
