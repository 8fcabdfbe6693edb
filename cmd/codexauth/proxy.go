package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/intercept"
	"github.com/codexauth/codexauth/mockproxy"
)

const proxySynopsis = `An HTTPS proxy that sends the hosts codex hard-codes (auth.openai.com, and the agent-identity
JWKS and accounts check on chatgpt.com) to a mock issuer, so the real 'codex login' (browser flow,
default issuer, no hidden flags) and any client of https://auth.openai.com sign in to the mock.
Every other host is refused unless --pass-through names it. The proxy terminates TLS with a local
CA (kept in --ca-dir, name-constrained to the mock's hosts); it prints the environment to use.

Examples:
  codexauth serve &                                        # the mock on http://127.0.0.1:8765
  codexauth proxy --issuer http://127.0.0.1:8765           # prints HTTPS_PROXY, CODEX_CA_CERTIFICATE, …
  codexauth proxy --print-ca > codexauth-ca.pem            # the CA certificate, to trust elsewhere`

type proxyFlags struct {
	issuer, addr, caOut, caDir, logLevel string
	passThrough                          multiFlag
	printCA                              bool
}

func defaultCADir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "codexauth", "proxy-ca")
	}
	return filepath.Join(os.TempDir(), "codexauth-proxy-ca")
}

func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("proxy", proxySynopsis, stderr)
	var f proxyFlags
	fs.StringVar(&f.issuer, "issuer", "", "the mock issuer's base URL, e.g. http://127.0.0.1:8765 (required unless --print-ca)")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8766", "address the proxy listens on (host:port; port 0 picks a free one)")
	fs.StringVar(&f.caOut, "ca-out", "", "also write the CA certificate (PEM) to this file")
	fs.StringVar(&f.caDir, "ca-dir", defaultCADir(), "folder that keeps the CA (ca.pem, ca-key.pem) across runs, and the trust bundle")
	fs.Var(&f.passThrough, "pass-through", "let HOST through to its real destination (repeatable; *.example.com matches subdomains)")
	fs.BoolVar(&f.printCA, "print-ca", false, "print the CA certificate (PEM) and exit")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug (every request to the mock), info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return flagFailure(stderr, "proxy", err)
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "codexauth proxy: "+format+"\n", a...)
		return code
	}
	hosts := mockproxy.Hosts(mockproxy.CodexRoutes)
	ca, created, err := intercept.LoadOrCreateCA(f.caDir, intercept.CAOptions{
		CommonName: "codexauth local mock CA (" + strings.Join(hosts, ", ") + " only)", Validity: 365 * 24 * time.Hour, PermittedHosts: hosts})
	if err != nil {
		return fail(report.ExitRuntime, "%v", err)
	}
	if f.caOut != "" {
		if err := os.WriteFile(f.caOut, ca.CertPEM(), 0o644); err != nil {
			return fail(report.ExitRuntime, "--ca-out: %v", err)
		}
	}
	if f.printCA {
		_, _ = stdout.Write(ca.CertPEM())
		return report.ExitOK
	}
	if f.issuer == "" {
		return fail(report.ExitUsage, "--issuer is required: the mock's base URL, e.g. http://127.0.0.1:8765")
	}
	issuerURL, err := url.Parse(strings.TrimRight(f.issuer, "/"))
	if err != nil || (issuerURL.Scheme != "http" && issuerURL.Scheme != "https") || issuerURL.Host == "" {
		return fail(report.ExitUsage, "--issuer %q: use an absolute http(s) URL", f.issuer)
	}
	log, err := newLogger(stderr, f.logLevel, "text")
	if err != nil {
		return fail(report.ExitUsage, "%v", err)
	}
	bundle := filepath.Join(f.caDir, "ca-bundle.pem")
	systemRoots, err := mockproxy.WriteBundle(bundle, ca)
	if err != nil {
		return fail(report.ExitRuntime, "write the trust bundle: %v", err)
	}
	p, err := mockproxy.New(mockproxy.Config{Issuer: issuerURL, CA: ca, PassThrough: f.passThrough, Log: log})
	if err != nil {
		return fail(report.ExitUsage, "%v", err)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fail(report.ExitRuntime, "listen on %s: %v", f.addr, err)
	}
	defer ln.Close()
	caCert := filepath.Join(f.caDir, intercept.CertFile)
	if f.caOut != "" {
		caCert, _ = filepath.Abs(f.caOut)
	}
	env := mockproxy.Environment{ProxyURL: "http://" + ln.Addr().String(), CACert: caCert, Bundle: bundle}
	printProxyUsage(stdout, env, issuerURL, f, created, systemRoots, ln.Addr())
	probeIssuer(ctx, stderr, issuerURL)

	hs := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fail(report.ExitRuntime, "%v", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return report.ExitOK
}

func printProxyUsage(w io.Writer, env mockproxy.Environment, issuerURL *url.URL, f proxyFlags, created bool, systemRoots string, addr net.Addr) {
	mock := issuerURL.String()
	fmt.Fprintf(w, "codexauth proxy listening on %s, sending codex's hosts to the mock at %s\n", env.ProxyURL, mock)
	for _, r := range mockproxy.CodexRoutes {
		paths := "every path"
		if len(r.Paths) > 0 {
			paths = strings.Join(r.Paths, ", ") + " (other paths refused)"
		}
		fmt.Fprintf(w, "  %-16s → mock: %s\n", r.Host, paths)
	}
	if len(f.passThrough) > 0 {
		fmt.Fprintf(w, "  %-16s → their real destination (--pass-through)\n", strings.Join(f.passThrough, ", "))
	}
	fmt.Fprintf(w, "  %-16s → refused (--pass-through HOST lets one through)\n", "any other host")
	state := "kept from an earlier run"
	if created {
		state = "new"
	}
	fmt.Fprintf(w, "CA (%s): %s — valid only for %s\n", state, env.CACert, strings.Join(mockproxy.Hosts(mockproxy.CodexRoutes), ", "))
	if systemRoots == "" {
		fmt.Fprintf(w, "WARNING: no system root certificates found: %s holds only this CA, so pass-through hosts will fail TLS\n", env.Bundle)
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		fmt.Fprintf(w, "WARNING: listening beyond loopback on %s: anyone who reaches it can use the mock as auth.openai.com\n", addr)
	}
	fmt.Fprintf(w, "\nEnvironment (codex and generic clients):\n")
	for _, kv := range env.Vars() {
		fmt.Fprintf(w, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	fmt.Fprintf(w, "\nThen, with no hidden flags:\n")
	fmt.Fprintf(w, "  codex login                       # browser flow against the mock (see below for the browser)\n")
	fmt.Fprintf(w, "  codex login --device-auth         # device flow: approve at %s/codex/device or in the console %s/\n", mock, mock)
	fmt.Fprintf(w, "  curl https://auth.openai.com/.well-known/openid-configuration\n")
	fmt.Fprintf(w, "\nThe browser: codex opens https://auth.openai.com/oauth/authorize?… Open it in a browser that uses this proxy\n")
	fmt.Fprintf(w, "and trusts the CA (e.g. chromium --proxy-server=%s after importing %s), or open the\n", env.ProxyURL, env.CACert)
	fmt.Fprintf(w, "same URL on the mock: %s/oauth/authorize?… — the mock redirects back to codex on 127.0.0.1:1455.\n\n", mock)
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/:.,_-+=@", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// probeIssuer warns when the mock does not answer its discovery document.
func probeIssuer(ctx context.Context, stderr io.Writer, issuerURL *url.URL) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, issuerURL.String()+"/.well-known/openid-configuration", nil)
	res, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth proxy: WARNING: the mock at %s does not answer (%v); start it with 'codexauth serve'\n", issuerURL, err)
		return
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "codexauth proxy: WARNING: %s/.well-known/openid-configuration answered %d\n", issuerURL, res.StatusCode)
	}
}
