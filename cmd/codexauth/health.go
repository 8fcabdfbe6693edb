package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/codexauth/codexauth/harness/report"
)

const healthSynopsis = `Asks a running issuer whether it is alive: GET /healthz, exit 0 on 200 and 1 otherwise.
Made for container health checks (the image's HEALTHCHECK runs it); it needs no shell or curl.

The URL is --url when given, else http://<--addr>/healthz, where --addr (env CODEXAUTH_ADDR, the same
variable "serve" reads) is the issuer's listen address; an unspecified host (0.0.0.0, ::) becomes loopback.
An issuer under a path prefix needs --url.

Examples:
  codexauth health                                   # http://127.0.0.1:8765/healthz
  codexauth health --url http://127.0.0.1:8080/codex-auth/healthz`

// runHealth is the liveness probe of the container image (docs: README
// "Container image"; the endpoint is the issuer's /healthz).
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("health", healthSynopsis, stderr)
	addr := fs.String("addr", "127.0.0.1:8765", "listen address of the issuer (host:port), as given to serve")
	rawURL := fs.String("url", "", "full health URL (overrides --addr)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args); err != nil {
		return flagFailure(stderr, "health", err)
	}
	target := *rawURL
	if target == "" {
		u, err := healthURL(*addr)
		if err != nil {
			fmt.Fprintf(stderr, "codexauth health: %v\n", err)
			return report.ExitUsage
		}
		target = u
	} else if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "codexauth health: --url %q must be an absolute http(s) URL\n", target)
		return report.ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth health: %v\n", err)
		return report.ExitUsage
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth health: %s: %v\n", target, err)
		return report.ExitFailed
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "codexauth health: %s answered %s\n", target, res.Status)
		return report.ExitFailed
	}
	fmt.Fprintf(stdout, "ok %s\n", target)
	return report.ExitOK
}

// healthURL turns a listen address into the /healthz URL on loopback when
// the address does not name a host.
func healthURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("--addr %q: want host:port with a fixed port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(strings.Trim(host, "[]"), port) + "/healthz", nil
}
