package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/capture"
	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/internal/builtin"
	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/store/memory"
)

var captureSynopsis = fmt.Sprintf(`Records what a codex release sends to an issuer: it drives that codex through device login,
refresh, logout, browser login, agent identity, personal access token, workload identity and
app-server login against the built-in reference issuer (in-process) and writes every request —
method, path, the headers that matter, the body with secrets masked — in the format of
fixtures/golden/wire-codex-%[1]s.txt. Then it prints the protocol drift against the pinned
release %[1]s: new or removed endpoints and fields, changed encodings, headers and values.

Examples:
  codexauth capture --codex-version 0.171.0 --out fixtures/golden/capture-codex-0.171.0.txt
  codexauth capture --codex-bin ./codex --against fixtures/golden/capture-codex-%[1]s.txt`, codexcli.Version)

// goldenCapture is where the repository keeps a version's capture.
func goldenCapture(version string) string {
	return filepath.Join("fixtures", "golden", "capture-codex-"+version+".txt")
}

func runCapture(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("capture", captureSynopsis, stderr)
	codexVersion := fs.String("codex-version", "", "codex release to capture, installed into the cache when missing (wins over --codex-bin; default: the pinned "+codexcli.Version+")")
	codexBin := fs.String("codex-bin", "", "codex binary to capture (default: the cached --codex-version)")
	out := fs.String("out", "", "write the capture to this file (default: print it)")
	against := fs.String("against", "", "capture to compare with (default: the pinned release's, fixtures/golden/capture-codex-"+codexcli.Version+".txt when found, else captured now)")
	failOnDrift := fs.Bool("fail-on-drift", false, "exit 1 when the capture drifts from --against")
	if err := parseFlags(fs, args); err != nil {
		return flagFailure(stderr, "capture", err)
	}
	if *codexVersion == "" && *codexBin == "" {
		*codexVersion = codexcli.Version
	}
	bin, err := resolveCodex(ctx, *codexBin, *codexVersion, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth capture: %v\n", err)
		return report.ExitUsage
	}
	version, err := codexcli.BinaryVersion(ctx, bin)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth capture: %v\n", err)
		return report.ExitUsage
	}
	fmt.Fprintf(stdout, "codexauth capture: codex %s (%s) against the built-in reference issuer\n", version, bin)
	c, err := captureCodex(ctx, bin, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth capture: %v\n", err)
		return report.ExitRuntime
	}
	var buf bytes.Buffer
	if err := capture.Write(&buf, c); err != nil {
		fmt.Fprintf(stderr, "codexauth capture: %v\n", err)
		return report.ExitRuntime
	}
	if *out == "" {
		fmt.Fprintf(stdout, "\n%s\n", buf.String())
	} else {
		err := os.MkdirAll(filepath.Dir(*out), 0o755)
		if err == nil {
			err = os.WriteFile(*out, buf.Bytes(), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "codexauth capture: %v\n", err)
			return report.ExitRuntime
		}
		fmt.Fprintf(stdout, "capture written to %s\n", *out)
	}

	base, from, err := baselineCapture(ctx, *against, c, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth capture: the capture to compare with: %v\n", err)
		return report.ExitRuntime
	}
	fmt.Fprintf(stdout, "\ncompared with %s\n", from)
	drift := capture.Diff(base, c)
	capture.Report(stdout, base, c, drift)
	if *failOnDrift && len(drift) > 0 {
		return report.ExitFailed
	}
	return report.ExitOK
}

// resolveCodex is the cached version when one is named (installed when
// missing; the installation's progress goes to log), else the binary bin.
func resolveCodex(ctx context.Context, bin, version string, log io.Writer) (string, error) {
	if version == "" {
		return codexcli.Find(bin)
	}
	if b, err := codexcli.FindVersion(version); err == nil {
		return b, nil
	} else if !codexcli.ValidVersion(version) {
		return "", err
	}
	fmt.Fprintf(log, "installing @openai/codex@%s into %s (once)\n", version, codexcli.VersionDir(version))
	return codexcli.InstallVersion(ctx, version)
}

// baselineCapture is the capture to diff against: --against, else the
// pinned release's golden capture when run inside the repository, else the
// pinned release captured now.
func baselineCapture(ctx context.Context, against string, c *capture.Capture, stdout io.Writer) (*capture.Capture, string, error) {
	if against == "" {
		if golden := findUp(goldenCapture(codexcli.Version)); golden != "" {
			against = golden
		}
	}
	if against != "" {
		f, err := os.Open(against)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		base, err := capture.Parse(f)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", against, err)
		}
		return base, against, nil
	}
	if c.Version == codexcli.Version {
		return c, "itself (the pinned release)", nil
	}
	bin, err := codexcli.FindOrInstall(ctx, codexcli.Version)
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintf(stdout, "\ncapturing the pinned codex %s to compare with\n", codexcli.Version)
	base, err := captureCodex(ctx, bin, stdout)
	return base, "codex " + codexcli.Version + " captured now", err
}

// findUp looks for rel in the working directory and its parents.
func findUp(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// captureCodex runs the capture flows of bin against a fresh recording
// reference issuer.
func captureCodex(ctx context.Context, bin string, progress io.Writer) (*capture.Capture, error) {
	rec := capture.NewRecorder()
	target, err := harness.Open(ctx, harness.Config{Builtin: wrappedBuiltin(rec.Wrap)})
	if err != nil {
		return nil, err
	}
	defer target.Close()
	dir, err := os.MkdirTemp("", "codexauth-capture-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	return capture.Run(ctx, capture.Options{Target: target, Recorder: rec, Bin: bin, Dir: dir,
		Progress: func(format string, args ...any) { fmt.Fprintf(progress, "  "+format+"\n", args...) }})
}

// wrappedBuiltin starts the reference issuer as the built-in target does
// (internal/builtin), with wrap in front of its handler: the capture's
// recorder, or a version scenario's behaviour. wrap receives the issuer's
// public URL.
func wrappedBuiltin(wrap func(next http.Handler, publicURL string) http.Handler) harness.StartBuiltin {
	return func(ctx context.Context, o harness.BuiltinOptions) (harness.BuiltinIssuer, error) {
		st := memory.New()
		if err := issuer.SeedUsers(ctx, st, issuer.DefaultUsers()); err != nil {
			return harness.BuiltinIssuer{}, fmt.Errorf("seed users: %w", err)
		}
		fs, err := faults.NewSet(o.Faults...)
		if err != nil {
			return harness.BuiltinIssuer{}, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return harness.BuiltinIssuer{}, fmt.Errorf("listen on loopback: %w", err)
		}
		url := "http://" + ln.Addr().String()
		adminToken := "capture-admin-" + randomToken()
		srv, err := issuer.New(ctx, issuer.Config{PublicURL: url, Store: st, Faults: fs, AdminToken: adminToken,
			DeviceInterval: 1, GCInterval: -1, ReuseGrace: o.ReuseGrace, Version: "wrapped",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			ln.Close()
			return harness.BuiltinIssuer{}, fmt.Errorf("start issuer: %w", err)
		}
		h := srv.Handler()
		if wrap != nil {
			h = wrap(h, url)
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		return harness.BuiltinIssuer{URL: url, Name: builtin.Name + " (wrapped)", Version: "wrapped", AdminToken: adminToken,
			Close: func() { _ = hs.Close() }}, nil
	}
}
