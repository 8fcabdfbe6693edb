package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/store"
	"github.com/codexauth/codexauth/issuer/store/memory"
	"github.com/codexauth/codexauth/issuer/store/sqlstore"
)

const serveSynopsis = `Runs the reference issuer: every endpoint the Codex CLI 0.169.0 signs in, refreshes
and signs out with, on a SQLite file by default (sessions survive restarts).

Examples:
  codexauth serve                                  # http://127.0.0.1:8765, store codexauth.db
  codexauth serve --auto-approve alice             # mock mode: logins succeed without a page
  codexauth serve --admin-token=random             # enable /__admin (clock, faults, approvals)
  codexauth serve --store postgres://u:p@h/db      # replicas share one PostgreSQL database`

type serveFlags struct {
	addr, publicURL, storeSpec, users, autoApprove, adminToken, internalSecret string
	keyPassphrase, logLevel, logFormat                                         string
	accessTTL, refreshTTL, reuseGrace                                          time.Duration
	readHeaderTimeout, readTimeout                                             time.Duration
	allowShortTTL, encryptTaskIDs, console                                     bool
	deviceInterval                                                             int
	faults, clientIDs, redirectURIs                                            multiFlag
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8765", "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&f.publicURL, "public-url", "", "issuer base URL as clients reach it, may include a path prefix (default: http://<addr>)")
	fs.StringVar(&f.storeSpec, "store", "sqlite:codexauth.db", "where state lives: sqlite:PATH, memory, or a postgres:// URL")
	fs.StringVar(&f.users, "users", "", "YAML/JSON file of users and their claims (default: built-in users alice and bob)")
	fs.DurationVar(&f.accessTTL, "access-ttl", time.Hour, "access-token lifetime; must exceed 300s (codex refreshes access tokens that expire within 5 minutes)")
	fs.BoolVar(&f.allowShortTTL, "allow-short-access-ttl", false, "allow --access-ttl <= 300s (testing proactive refresh): codex then refreshes before every command")
	fs.DurationVar(&f.refreshTTL, "refresh-ttl", 30*24*time.Hour, "refresh-token lifetime, renewed on every rotation")
	fs.DurationVar(&f.reuseGrace, "reuse-grace", 0, "how long a rotated-out refresh token still returns its same successor (0: any reuse revokes the family)")
	fs.IntVar(&f.deviceInterval, "device-interval", 0, "seconds codex waits between device-code polls (default 5; 1 with --auto-approve, so a mock login takes about a second)")
	fs.StringVar(&f.autoApprove, "auto-approve", "", "mock mode: approve device codes for USER at their second poll (the first is answered pending, as codex would see a person approving in a browser) and sign USER in at /oauth/authorize without a page")
	fs.StringVar(&f.adminToken, "admin-token", "", "enable the /__admin API with this bearer token (\"random\" generates and prints one)")
	fs.StringVar(&f.internalSecret, "internal-secret", "", "enable POST /internal/codex-auth/validate, authenticated by this X-Internal-Secret (at least 16 characters)")
	fs.BoolVar(&f.encryptTaskIDs, "encrypt-task-ids", false, "answer agent task registrations with encrypted_task_id (sealed box to the agent's key) instead of task_id")
	fs.StringVar(&f.keyPassphrase, "key-passphrase", "", "encrypt signing keys at rest with this passphrase")
	fs.BoolVar(&f.console, "console", true, "serve the developer console at / (open on a loopback --addr without --admin-token, behind the admin token otherwise); false turns it and its request recording off")
	fs.Var(&f.faults, "fault", "switch on a deliberate defect from the fault catalogue (repeatable; see docs/faults.md)")
	fs.Var(&f.clientIDs, "client-id", "register a client id (repeatable; default: codex's "+issuer.CodexClientID+")")
	fs.Var(&f.redirectURIs, "redirect-uri", "register a redirect URI besides codex's loopback callbacks (repeatable)")
	fs.DurationVar(&f.readHeaderTimeout, "read-header-timeout", 10*time.Second, "close a connection whose request headers have not all arrived within this time (slowloris)")
	fs.DurationVar(&f.readTimeout, "read-timeout", 30*time.Second, "answer 408 and close when a request's body has not all arrived within this time of its start")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// openStore opens the store a --store spec names.
func openStore(ctx context.Context, spec string) (store.Store, string, error) {
	switch {
	case spec == "memory":
		return memory.New(), "memory (state is lost on exit)", nil
	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:")
		s, err := sqlstore.OpenSQLite(ctx, path)
		return s, "sqlite " + path, err
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		s, err := sqlstore.OpenPostgres(ctx, spec)
		return s, "postgres " + redactDSN(spec), err
	}
	return nil, "", fmt.Errorf("--store %q: use sqlite:PATH, memory or postgres://…", spec)
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if j := strings.Index(dsn[i+3:], "@"); j >= 0 {
			return dsn[:i+3] + "…@" + dsn[i+3+j+1:]
		}
	}
	return dsn
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", serveSynopsis, stderr)
	var f serveFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return flagFailure(stderr, "serve", err)
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth serve: %v\n", err)
		return report.ExitUsage
	}
	srv, ln, cleanup, code := startIssuer(ctx, f, log, stdout, stderr)
	if code != report.ExitOK {
		return code
	}
	defer cleanup()
	hs := newHTTPServer(srv.Handler(), f, log)
	gcCtx, stopGC := context.WithCancel(ctx)
	defer stopGC()
	go srv.RunGC(gcCtx)
	hs.RegisterOnShutdown(srv.CloseStreams)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "codexauth serve: %v\n", err)
		return report.ExitRuntime
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("stopped")
	return report.ExitOK
}

// startIssuer validates flags, opens the store, seeds users, listens and
// prints how to use the issuer.
func startIssuer(ctx context.Context, f serveFlags, log *slog.Logger, stdout, stderr io.Writer) (*issuer.Server, net.Listener, func(), int) {
	fail := func(code int, format string, a ...any) (*issuer.Server, net.Listener, func(), int) {
		fmt.Fprintf(stderr, "codexauth serve: "+format+"\n", a...)
		return nil, nil, nil, code
	}
	fset, err := faults.NewSet(f.faults...)
	if err != nil {
		return fail(report.ExitUsage, "--fault: %v", err)
	}
	var fixtures []issuer.UserFixture
	if f.users != "" {
		if fixtures, err = issuer.LoadFixtures(f.users); err != nil {
			return fail(report.ExitUsage, "%v", err)
		}
	}
	adminToken := f.adminToken
	if adminToken == "random" {
		adminToken = "adm_" + randomToken()
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fail(report.ExitRuntime, "listen on %s: %v", f.addr, err)
	}
	publicURL := f.publicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	st, desc, err := openStore(ctx, f.storeSpec)
	if err != nil {
		ln.Close()
		return fail(report.ExitRuntime, "open store: %v", err)
	}
	cleanup := func() { st.Close(); ln.Close() }
	if len(fixtures) > 0 {
		err = issuer.SeedUsers(ctx, st, fixtures)
	} else if existing, lerr := st.ListUsers(ctx); lerr != nil {
		err = lerr
	} else if len(existing) == 0 {
		err = issuer.SeedUsers(ctx, st, issuer.DefaultUsers())
	}
	if err != nil {
		cleanup()
		return fail(report.ExitRuntime, "seed users: %v", err)
	}
	if f.autoApprove != "" {
		if _, err := st.GetUser(ctx, f.autoApprove); err != nil {
			cleanup()
			return fail(report.ExitUsage, "--auto-approve %q: no such user (add it to --users)", f.autoApprove)
		}
	}
	srv, err := issuer.New(ctx, issuer.Config{
		PublicURL: publicURL, Store: st, Logger: log, AccessTTL: f.accessTTL, RefreshTTL: f.refreshTTL,
		ReuseGrace: f.reuseGrace, AllowShortAccessTTL: f.allowShortTTL, DeviceInterval: f.deviceInterval,
		ClientIDs: f.clientIDs, RedirectURIs: f.redirectURIs, AutoApproveUser: f.autoApprove, AdminToken: adminToken,
		InternalSecret: f.internalSecret, KeyPassphrase: f.keyPassphrase, Faults: fset, Version: version, EncryptTaskIDs: f.encryptTaskIDs,
		LoopbackOnly: isLoopback(ln.Addr()), NoConsole: !f.console, TokenConcurrency: schedulerHeadroom(),
	})
	if err != nil {
		cleanup()
		var cerr *issuer.ConfigError
		if errors.As(err, &cerr) {
			return fail(report.ExitUsage, "%v", err)
		}
		return fail(report.ExitRuntime, "%v", err)
	}
	base := strings.TrimRight(publicURL, "/")
	fmt.Fprintf(stdout, "codexauth %s issuer listening on %s (store: %s)\n", version, base, desc)
	fmt.Fprintf(stdout, "\nSign codex in (device flow):\n  CODEX_REVOKE_TOKEN_URL_OVERRIDE=%s/oauth/revoke codex login --device-auth --experimental_issuer %s\n", base, base)
	if f.autoApprove != "" {
		fmt.Fprintf(stdout, "  (mock mode: logins are approved for %q automatically)\n", f.autoApprove)
	} else {
		fmt.Fprintf(stdout, "  then approve the code at %s/codex/device\n", base)
	}
	fmt.Fprintf(stdout, "Sign codex out:\n  CODEX_REVOKE_TOKEN_URL_OVERRIDE=%s/oauth/revoke codex logout\n", base)
	switch {
	case !f.console:
	case adminToken != "":
		fmt.Fprintf(stdout, "Console: %s/ (sign in with the admin token)\n", base)
	case isLoopback(ln.Addr()):
		fmt.Fprintf(stdout, "Console: %s/ (mock mode: open on loopback; requests, families and faults live)\n", base)
	}
	if adminToken != "" {
		if f.adminToken == "random" {
			fmt.Fprintf(stdout, "Admin API: %s/__admin (Authorization: Bearer %s)\n", base, adminToken)
		} else {
			fmt.Fprintf(stdout, "Admin API: %s/__admin (bearer token from --admin-token)\n", base)
		}
	}
	if len(f.faults) > 0 {
		fmt.Fprintf(stdout, "WARNING: deliberate faults are on: %s\n", strings.Join(fset.Enabled(), ", "))
	}
	if adminToken != "" && !isLoopback(ln.Addr()) {
		fmt.Fprintf(stdout, "WARNING: the admin API (users, clock, faults, tokens) listens on %s, beyond loopback: keep the admin token secret and the issuer behind TLS\n", ln.Addr())
	}
	fmt.Fprintln(stdout)
	if fl, ok := stdout.(*os.File); ok {
		_ = fl.Sync()
	}
	return srv, ln, cleanup, report.ExitOK
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// newHTTPServer bounds what one client can hold: headers must arrive within
// --read-header-timeout (else the connection is closed), a body within
// --read-timeout of the request's start (else 408, issuer/bodylimit.go), and
// the answer gets its own time on top, so a 408 still reaches the client.
// Each connection costs a goroutine and a socket, not a thread: hundreds of
// slow clients leave the issuer answering everyone else.
func newHTTPServer(h http.Handler, f serveFlags, log *slog.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: f.readHeaderTimeout, ReadTimeout: f.readTimeout,
		WriteTimeout: f.readTimeout + 30*time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}
