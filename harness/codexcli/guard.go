package codexcli

import (
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/intercept"
)

// Guard is the HTTP(S) proxy every codex run is pointed at. It refuses
// every destination locally and records what was attempted, so nothing a
// codex run does can reach the internet (the contract's §2.3 safety rule).
// Hosts registered with Intercept are the exception: their CONNECT tunnels
// are terminated with a certificate from a throwaway CA and the plaintext
// requests are forwarded to the issuer under test — how codex's browser
// login, which always talks to https://auth.openai.com, reaches it. The
// interception itself is package intercept's.
type Guard struct {
	ln      net.Listener
	srv     *http.Server
	mu      sync.Mutex
	refused map[string]int
	routes  map[string]http.Handler // intercepted host → forwarder to the issuer
	seen    map[string]int          // intercepted requests, "host path"
	ca      *intercept.CA
	// MarkIntercepted, when set (by `codexauth capture`, before codex
	// runs), names a request header the guard adds to every intercepted
	// request with the host codex asked for, so a recorder at the issuer
	// can tell "sent to auth.openai.com" from "sent to the issuer".
	MarkIntercepted string
}

// StartGuard listens on a free loopback port.
func StartGuard() (*Guard, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("guard proxy: %w", err)
	}
	g := &Guard{ln: ln, refused: map[string]int{}, routes: map[string]http.Handler{}, seen: map[string]int{}}
	p := &intercept.Proxy{
		Intercept: g.handlerFor,
		Refuse:    g.refuse,
	}
	g.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		p.CA = g.ca
		g.mu.Unlock()
		p.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go g.srv.Serve(ln)
	return g, nil
}

// URL is the proxy URL for HTTPS_PROXY and friends.
func (g *Guard) URL() string { return "http://" + g.ln.Addr().String() }

// Intercept routes host (e.g. "auth.openai.com") to upstream (the issuer
// base URL). The first call creates the throwaway CA. upstreamCA, when not
// empty, is a PEM file of a private CA the upstream's certificate chains
// to (conform --ca-cert), trusted besides the system roots.
func (g *Guard) Intercept(host, upstream, upstreamCA string) error {
	u, err := url.Parse(strings.TrimRight(upstream, "/"))
	if err != nil {
		return err
	}
	var transport http.RoundTripper
	if upstreamCA != "" {
		roots, err := wire.RootsWith(upstreamCA)
		if err != nil {
			return fmt.Errorf("upstream CA: %w", err)
		}
		transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute,
			TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ca == nil {
		ca, err := intercept.NewCA(intercept.CAOptions{CommonName: "codexauth throwaway test CA", Validity: 24 * time.Hour})
		if err != nil {
			return err
		}
		g.ca = ca
	}
	fwd := intercept.Forward(u, transport)
	g.routes[host] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.seen[host+" "+r.URL.Path]++
		mark := g.MarkIntercepted
		g.mu.Unlock()
		if mark != "" {
			r.Header.Set(mark, host)
		}
		fwd.ServeHTTP(w, r)
	})
	return nil
}

func (g *Guard) handlerFor(host string) http.Handler {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.routes[host]
}

// WriteCA writes the CA certificate (PEM) for CODEX_CA_CERTIFICATE.
func (g *Guard) WriteCA(dir string) (string, error) {
	g.mu.Lock()
	ca := g.ca
	g.mu.Unlock()
	if ca == nil {
		return "", fmt.Errorf("no CA: call Intercept first")
	}
	path := filepath.Join(dir, "codexauth-test-ca.pem")
	return path, os.WriteFile(path, ca.CertPEM(), 0o600)
}

func (g *Guard) refuse(w http.ResponseWriter, _ *http.Request, host string) {
	g.mu.Lock()
	g.refused[host]++
	g.mu.Unlock()
	http.Error(w, "codexauth guard: refused "+host+" (only the issuer under test is reachable)", http.StatusForbidden)
}

// Refused lists the destinations that were attempted and refused.
func (g *Guard) Refused() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.refused))
}

// Intercepted counts the requests forwarded per "host path".
func (g *Guard) Intercepted() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for k, v := range g.seen {
		out[k] = v
	}
	return out
}

// Close stops the proxy.
func (g *Guard) Close() error { return g.srv.Close() }
