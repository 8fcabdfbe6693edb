package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
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

	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/internal/testutil"
)

// The crash and fault soak (issue 15). Clients refresh their own chains and
// now and then present their previous token again, concurrently, against two
// `codexauth serve` replicas on PostgreSQL and one issuer on SQLite, while a
// driver kill -9s and restarts issuers 20 times, restarts PostgreSQL twice and
// fills the SQLite disk once (a tmpfs of a few MiB mounted by the test) and
// frees it. Every answer must be 200 or 503 temporarily_unavailable; at the
// end every client's newest token works, no token ever had two successors,
// and the issuers recovered by themselves.
//
// The issuers run with a reuse grace window (docs/operations.md): a rotation
// committed just before a kill, whose answer never arrived, leaves the client
// holding the parent, and only the grace window lets it get that same child
// instead of counting as reuse. The window must outlast the longest fault.
//
// `go test` runs the short form (scripts/test.sh); scripts/soak.sh runs it
// long: CODEXAUTH_SOAK_DURATION spreads the same faults over that time with
// more clients.

const soakGrace = 2 * time.Minute

type soakConfig struct {
	pgClients, sqliteClients int
	between                  time.Duration // load between two fault events
	fullFor                  time.Duration // longest disk-full episode
	tmpfsSize                string
}

func soakConfigFromEnv(t *testing.T) soakConfig {
	cfg := soakConfig{pgClients: 6, sqliteClients: 3, between: 300 * time.Millisecond, fullFor: 15 * time.Second, tmpfsSize: "48m"}
	if v := os.Getenv("CODEXAUTH_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CODEXAUTH_SOAK_DURATION=%q: %v", v, err)
		}
		// 23 fault events share the duration.
		cfg = soakConfig{pgClients: 16, sqliteClients: 8, between: d / 23, fullFor: 30 * time.Second, tmpfsSize: "256m"}
	}
	return cfg
}

// soakIssuer is one `codexauth serve` the driver kills and restarts on the
// same address and store.
type soakIssuer struct {
	name, addr, url string
	args            []string
	log             string
	mu              sync.Mutex
	cmd             *exec.Cmd
}

func (si *soakIssuer) start() error {
	logf, err := os.OpenFile(si.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", si.addr, "--log-level", "warn", "--admin-token", replicaAdmin,
		"--reuse-grace", soakGrace.String()}, si.args...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return err
	}
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), "issuer listening on ") {
				found = true
				up <- true
			}
		}
		if !found {
			up <- false
		}
	}()
	select {
	case ok := <-up:
		if !ok {
			_ = cmd.Wait()
			return fmt.Errorf("%s did not start (see %s)", si.name, si.log)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("%s did not start within a minute (see %s)", si.name, si.log)
	}
	si.mu.Lock()
	si.cmd = cmd
	si.mu.Unlock()
	return nil
}

func (si *soakIssuer) kill9() {
	si.mu.Lock()
	cmd := si.cmd
	si.cmd = nil
	si.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
}

// ready waits until /readyz answers 200: the issuer recovered by itself.
func (si *soakIssuer) ready(ctx context.Context, within time.Duration) error {
	c := wire.NewClient(si.url, "")
	c.HTTP.Timeout = 2 * time.Second
	deadline := time.Now().Add(within)
	for {
		ex := c.Get(ctx, "/readyz", nil)
		if ex.Err == nil && ex.Status == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready %s after the fault: %s", si.name, within, ex)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// soakTally is what the clients saw.
type soakTally struct {
	rotations, stale, transient, unreachable atomic.Int64
	mu                                       sync.Mutex
	successor                                map[string]string // presented refresh token → the child answered
	forks, permanent                         []string
	transientFrom                            map[string]int64 // issuer → 503s
}

// answered records a 200 to presenting parent: its child must be the one
// any earlier answer gave.
func (s *soakTally) answered(parent, child string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.successor[parent]; ok && prev != child {
		s.forks = append(s.forks, fmt.Sprintf("%.12s… had successors %.12s… and %.12s…", parent, prev, child))
		return false
	}
	s.successor[parent] = child
	return true
}

// outcome classifies an answer: ok, transient (503
// temporarily_unavailable), unreachable (no answer: the issuer is down), or
// permanent (anything else — what codex would end the sign-in on, or a bug).
func (s *soakTally) outcome(si *soakIssuer, what string, ex *wire.Exchange) string {
	switch {
	case ex.Err != nil:
		s.unreachable.Add(1)
		return "unreachable"
	case ex.Status == 200 && ex.Str("refresh_token") != "":
		return "ok"
	case ex.Status == 503 && wire.ErrorCode(ex.Body) == "temporarily_unavailable":
		s.transient.Add(1)
		s.mu.Lock()
		s.transientFrom[si.name]++
		s.mu.Unlock()
		return "transient"
	}
	s.mu.Lock()
	s.permanent = append(s.permanent, fmt.Sprintf("%s at %s: %s", what, si.name, ex))
	s.mu.Unlock()
	return "permanent"
}

func (s *soakTally) transientAt(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transientFrom[name]
}

// soakClient refreshes its own chain at the issuers of its group.
type soakClient struct {
	issuers        []*soakIssuer
	latest, parent string
}

func (c *soakClient) run(ctx context.Context, tally *soakTally, stop *atomic.Bool, rng *rand.Rand) {
	for !stop.Load() {
		si := c.issuers[rng.IntN(len(c.issuers))]
		cl := wire.NewClient(si.url, "")
		cl.HTTP.Timeout = 5 * time.Second
		ex := cl.Refresh(ctx, c.latest, "proactive_expiry")
		if tally.outcome(si, "refresh", ex) != "ok" {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		child := ex.Str("refresh_token")
		tally.answered(c.latest, child)
		tally.rotations.Add(1)
		c.parent, c.latest = c.latest, child
		// Now and then the previous token again — only right after a
		// rotation this client saw answered, while its child is the live
		// tip: within the grace window that gets the same child back. (A
		// parent presented after its child was rotated too is reuse, and
		// ends the family by design.)
		if rng.IntN(4) == 0 {
			si := c.issuers[rng.IntN(len(c.issuers))]
			ex := wire.NewClient(si.url, "").Refresh(ctx, c.parent, "unauthorized_recovery")
			if tally.outcome(si, "stale presentation", ex) == "ok" {
				tally.stale.Add(1)
				tally.answered(c.parent, ex.Str("refresh_token"))
			}
		}
	}
}

// mintLogin signs a user in through the admin API (POST /__admin/tokens).
func mintLogin(ctx context.Context, si *soakIssuer) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, si.url+"/__admin/tokens", strings.NewReader(`{"user":"alice"}`))
	req.Header.Set("Authorization", "Bearer "+replicaAdmin)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var toks struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&toks); err != nil || res.StatusCode != 200 || toks.RefreshToken == "" {
		return "", fmt.Errorf("mint tokens at %s: %d %v", si.name, res.StatusCode, err)
	}
	return toks.RefreshToken, nil
}

// startPGCluster starts a cluster of the soak's own with scripts/pg.sh and
// returns its DSN and control script (stop, start, restart).
func startPGCluster(t *testing.T) (dsn, ctl string) {
	pg := exec.Command("bash", filepath.Join(testutil.RepoRoot(), "scripts", "pg.sh"))
	out, _ := pg.StdoutPipe()
	pg.Stderr = os.Stderr
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Process.Signal(syscall.SIGTERM); _ = pg.Wait() })
	sc := bufio.NewScanner(out)
	if sc.Scan() {
		dsn = sc.Text()
	}
	if sc.Scan() {
		ctl = sc.Text()
	}
	if !strings.HasPrefix(dsn, "postgres://") || ctl == "" {
		t.Fatalf("scripts/pg.sh did not start a cluster (PostgreSQL server binaries are needed): %q %q", dsn, ctl)
	}
	return dsn, ctl
}

// mountSmallDisk mounts a tmpfs of the given size: the SQLite issuer's disk,
// which the soak fills. It needs root (CAP_SYS_ADMIN); the error says why
// not otherwise.
func mountSmallDisk(t *testing.T, size string) (string, error) {
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("mount -t tmpfs -o size=%s: %v: %s", size, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir, nil
}

// fillDisk writes a filler file until the filesystem is full.
func fillDisk(dir string) (string, int64, error) {
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		return path, 0, err
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			return path, n, nil
		}
		if err != nil {
			return path, n, err
		}
	}
}

func TestCrashAndFaultSoak(t *testing.T) {
	cfg := soakConfigFromEnv(t)
	ctx := context.Background()
	start := time.Now()
	dsn, ctl := startPGCluster(t)
	logs := t.TempDir()
	disk, mountErr := mountSmallDisk(t, cfg.tmpfsSize)

	a := &soakIssuer{name: "pg-a", args: []string{"--store", dsn}}
	b := &soakIssuer{name: "pg-b", args: []string{"--store", dsn}}
	issuers := []*soakIssuer{a, b}
	var c *soakIssuer
	if mountErr == nil {
		c = &soakIssuer{name: "sqlite", args: []string{"--store", "sqlite:" + filepath.Join(disk, "soak.db")}}
		issuers = append(issuers, c)
	} else {
		t.Logf("NOT RUN: the SQLite issuer and its disk-full episode need a size-limited filesystem: %v", mountErr)
	}
	for _, si := range issuers {
		si.addr = freePort(t)
		si.url = "http://" + si.addr
		si.log = filepath.Join(logs, si.name+".log")
		if err := si.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(si.kill9)
	}

	tally := &soakTally{successor: map[string]string{}, transientFrom: map[string]int64{}}
	var clients []*soakClient
	for i := 0; i < cfg.pgClients+cfg.sqliteClients; i++ {
		group := []*soakIssuer{a, b}
		if i >= cfg.pgClients {
			if c == nil {
				break
			}
			group = []*soakIssuer{c}
		}
		rt, err := mintLogin(ctx, group[0])
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, &soakClient{issuers: group, latest: rt})
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.run(ctx, tally, &stop, rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))))
		}()
	}

	// The driver: 20 kill -9 cycles over the three issuers, two PostgreSQL
	// restarts and one disk-full episode between them.
	var kills, pgRestarts, diskFull int
	var diskFull503 int64
	fail := func(format string, a ...any) {
		stop.Store(true)
		wg.Wait()
		t.Fatalf(format, a...)
	}
	for i := 0; i < 20; i++ {
		time.Sleep(cfg.between)
		si := issuers[i%len(issuers)]
		si.kill9()
		time.Sleep(100 * time.Millisecond) // clients meet a closed port
		if err := si.start(); err != nil {
			fail("restart after kill -9: %v\n%s", err, tailFile(si.log, 20))
		}
		kills++
		if err := si.ready(ctx, time.Minute); err != nil {
			fail("%v\n%s", err, tailFile(si.log, 20))
		}
		switch i {
		case 6, 13:
			time.Sleep(cfg.between)
			if out, err := exec.Command(ctl, "restart", "-m", "fast").CombinedOutput(); err != nil {
				fail("pg_ctl restart: %v %s", err, out)
			}
			pgRestarts++
			for _, si := range []*soakIssuer{a, b} {
				if err := si.ready(ctx, time.Minute); err != nil {
					fail("%v\n%s", err, tailFile(si.log, 20))
				}
			}
		case 9:
			if c == nil {
				continue
			}
			time.Sleep(cfg.between)
			before := tally.transientAt(c.name)
			filler, size, err := fillDisk(disk)
			if err != nil {
				fail("fill the disk: %v", err)
			}
			// Full until the store has refused (503) at least a few
			// requests, or fullFor at most.
			for until := time.Now().Add(cfg.fullFor); time.Now().Before(until) && tally.transientAt(c.name)-before < 5; {
				time.Sleep(50 * time.Millisecond)
			}
			diskFull503 = tally.transientAt(c.name) - before
			if err := os.Remove(filler); err != nil {
				fail("free the disk: %v", err)
			}
			diskFull++
			t.Logf("disk full: %d MiB of filler; the SQLite issuer answered 503 %d times meanwhile", size>>20, diskFull503)
			if err := c.ready(ctx, time.Minute); err != nil {
				fail("%v\n%s", err, tailFile(c.log, 20))
			}
		}
	}
	time.Sleep(cfg.between)
	stop.Store(true)
	wg.Wait()

	// Afterwards: every issuer ready, every client's newest token works.
	for _, si := range issuers {
		if err := si.ready(ctx, time.Minute); err != nil {
			t.Fatalf("%v\n%s", err, tailFile(si.log, 20))
		}
	}
	lost := 0
	for i, cl := range clients {
		cc := wire.NewClient(cl.issuers[0].url, "")
		ex := cc.Refresh(ctx, cl.latest, "proactive_expiry")
		if ex.Status != 200 || !tally.answered(cl.latest, ex.Str("refresh_token")) {
			lost++
			t.Errorf("client %d: its newest refresh token no longer works: %s", i, ex)
		}
	}
	tally.mu.Lock()
	forks, permanent := len(tally.forks), len(tally.permanent)
	tally.mu.Unlock()
	summary := fmt.Sprintf("soak (%s, %d clients on 2 PostgreSQL replicas + %d on SQLite, grace %s): kill -9 cycles: %d, PostgreSQL restarts: %d, "+
		"disk-full episodes: %d (%d answers 503 while full), rotations: %d, stale presentations: %d, 503 temporarily_unavailable: %d, "+
		"no answer (issuer down): %d, lost: %d, forks: %d, permanent errors during faults: %d",
		time.Since(start).Round(time.Second), cfg.pgClients, len(clients)-cfg.pgClients, soakGrace, kills, pgRestarts, diskFull, diskFull503,
		tally.rotations.Load(), tally.stale.Load(), tally.transient.Load(), tally.unreachable.Load(), lost, forks, permanent)
	fmt.Println(summary)
	t.Log(summary)
	for _, f := range tally.forks {
		t.Errorf("fork: %s", f)
	}
	for i, p := range tally.permanent {
		if i == 20 {
			t.Errorf("… %d more permanent errors", permanent-20)
			break
		}
		t.Errorf("permanent error during faults: %s", p)
	}
	if kills != 20 || pgRestarts != 2 {
		t.Errorf("the driver ran %d kill -9 cycles and %d PostgreSQL restarts, want 20 and 2", kills, pgRestarts)
	}
	if tally.rotations.Load() < int64(len(clients)) || tally.stale.Load() == 0 {
		t.Errorf("the load did not get going: %d rotations, %d stale presentations", tally.rotations.Load(), tally.stale.Load())
	}
	if mountErr != nil {
		t.Skipf("NOT RUN: the SQLite issuer and its disk-full episode (everything else ran and passed): %v", mountErr)
	}
	if diskFull != 1 || diskFull503 == 0 {
		t.Errorf("the disk-full episode did not reach the SQLite store: %d episodes, %d answers 503 while full", diskFull, diskFull503)
	}
}

// tailFile is the last n lines of a file, for failure messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return path + ":\n" + tail(string(b), n)
}
