// Command loadgen is the load generator of scripts/bench.sh (issue 14):
//
//	loadgen run [flags] -- SERVER ARGS…   start a server ({port} in ARGS is replaced by a free port), time it to
//	                                      ready, sign clients in, refresh for a while, validate, print one JSON line
//	loadgen seed -store SPEC -families N  fill a fresh SQL store with N live token families
//	loadgen pgdb -admin DSN -name NAME    (re)create a PostgreSQL database and print its DSN
//	loadgen report -results FILE -sign FILE [-peer LABEL]
//	                                      print the Markdown tables from the JSON lines and `go test -bench` output
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/codexauth/codexauth/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "seed":
		err = seedCmd(ctx, os.Args[2:])
	case "pgdb":
		err = pgdbCmd(ctx, os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	case "-h", "--help", "help":
		usage(os.Stdout)
		return
	default:
		usage(os.Stderr)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: loadgen run [flags] -- SERVER ARGS… | loadgen seed -store SPEC -families N | loadgen pgdb -admin DSN -name NAME | loadgen report -results FILE -sign FILE")
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	label := fs.String("label", "", "name of this server in the report (required)")
	kind := fs.String("kind", string(loadgen.Codexauth), "codexauth or oauth2-mock-server")
	clients := fs.Int("clients", 16, "clients, each refreshing its own chain")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured refreshing before the measurement")
	duration := fs.Duration("duration", 10*time.Second, "measured refreshing")
	validate := fs.Duration("validate", 5*time.Second, "measured bearer validations (0: none; codexauth only)")
	secret := fs.String("secret", "", "X-Internal-Secret of the validate endpoint (the server's --internal-secret)")
	user := fs.String("user", "alice", "user the device sign-in is approved for (the server's --auto-approve)")
	families := fs.Int("families", 0, "live families seeded into the store (reported, not created here)")
	readyPath := fs.String("ready-path", "/readyz", "path that answers 200 once the server is ready")
	tokenPath := fs.String("token-path", "/oauth/token", "token endpoint path")
	logPath := fs.String("log", os.DevNull, "file for the server's output")
	cpuProfile := fs.String("cpuprofile", "", "write the generator's own CPU profile here")
	baseURL := fs.String("base", "", "drive a server that already runs at this URL instead of starting one (no ready time, no memory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	server := fs.Args()
	if *label == "" || (len(server) == 0) == (*baseURL == "") {
		return errors.New("run: -label and either a server command after -- or -base are required")
	}
	base := strings.TrimRight(*baseURL, "/")
	var proc *loadgen.Process
	var ready time.Duration
	if base == "" {
		port, err := loadgen.FreePort()
		if err != nil {
			return err
		}
		for i := range server {
			server[i] = strings.ReplaceAll(server[i], "{port}", strconv.Itoa(port))
		}
		base = "http://127.0.0.1:" + strconv.Itoa(port)
		if proc, ready, err = loadgen.Launch(ctx, server, *logPath, base+*readyPath, 60*time.Second); err != nil {
			return err
		}
		defer proc.Stop()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	k := loadgen.Kind(*kind)
	c := loadgen.NewHTTPClient(*clients)
	chains, err := loadgen.Prepare(ctx, c, k, base, *clients)
	if err != nil {
		return fmt.Errorf("%s: %w", *label, err)
	}
	if *warmup > 0 {
		if w := loadgen.RunRefresh(ctx, c, k, base+*tokenPath, chains, *warmup); w.Errors > 0 {
			return fmt.Errorf("%s: warm-up had %d errors: %v", *label, w.Errors, w.ErrorSamples)
		}
	}
	run := loadgen.Run{Label: *label, Kind: k, Families: *families, Clients: *clients, Ready: ready, At: time.Now().UTC()}
	var serverCPU time.Duration
	if proc != nil {
		serverCPU = proc.CPU()
	}
	selfCPU := loadgen.SelfCPU()
	run.Refresh = loadgen.RunRefresh(ctx, c, k, base+*tokenPath, chains, *duration)
	run.LoadgenCPU = loadgen.SelfCPU() - selfCPU
	if proc != nil {
		run.ServerCPU = proc.CPU() - serverCPU
	}
	if *validate > 0 && k == loadgen.Codexauth {
		v := loadgen.RunValidate(ctx, c, base, *secret, *user, chains, *validate)
		run.Validate = &v
	}
	if proc != nil {
		run.Memory = proc.Memory()
	}
	fmt.Fprintf(os.Stderr, "%s: %.0f refreshes/s, p50 %s, p99 %s, %d errors, server CPU %s/refresh, loadgen CPU %s/refresh\n", *label, run.Refresh.Rate,
		run.Refresh.P50.Round(10*time.Microsecond), run.Refresh.P99.Round(10*time.Microsecond), run.Refresh.Errors,
		perOp(run.ServerCPU, run.Refresh.OK), perOp(run.LoadgenCPU, run.Refresh.OK))
	return json.NewEncoder(os.Stdout).Encode(run)
}

func seedCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	spec := fs.String("store", "", "sqlite:PATH or postgres:// URL of a fresh store")
	n := fs.Int("families", 10000, "live families to create")
	user := fs.String("user", "alice", "owner of the families")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	if err := loadgen.Seed(ctx, *spec, *n, *user, loadgen.CodexClientID); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeded %d families in %s\n", *n, time.Since(start).Round(time.Millisecond))
	return nil
}

func pgdbCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pgdb", flag.ContinueOnError)
	admin := fs.String("admin", os.Getenv("CODEXAUTH_TEST_POSTGRES"), "DSN of a user allowed to CREATE DATABASE")
	name := fs.String("name", "", "database to (re)create")
	durable := fs.Bool("fsync", true, "require fsync and synchronous_commit on the server (asked for with ALTER SYSTEM; a server started with -c fsync=off is refused)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dsn, err := loadgen.FreshPostgresDB(ctx, *admin, *name, *durable)
	if err != nil {
		return err
	}
	fmt.Println(dsn)
	return nil
}

func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	results := fs.String("results", "", "JSON lines written by loadgen run")
	signPath := fs.String("sign", "", "output of go test -bench RS256Sign ./internal/loadgen")
	peer := fs.String("peer", "oauth2-mock-server", "label the ratio column compares with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	runs, err := loadgen.ReadRunsFile(*results)
	if err != nil {
		return err
	}
	f, err := os.Open(*signPath)
	if err != nil {
		return err
	}
	defer f.Close()
	sign, err := loadgen.ParseSignBench(f)
	if err != nil {
		return err
	}
	loadgen.WriteReport(os.Stdout, runs, sign, *peer)
	return nil
}

func perOp(d time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return (d / time.Duration(n)).Round(time.Microsecond)
}
