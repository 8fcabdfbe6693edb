// Package mockproxy is `codexauth proxy`: an HTTPS proxy that sends the
// hosts the Codex CLI 0.169.0 hard-codes (docs/codex-issuer-contract.md §1,
// §2.1) to a local mock issuer, so codex's browser login — which has no
// issuer override — and any client that talks to https://auth.openai.com
// sign in to the mock without a code change. Every other host is refused
// unless the user lets it pass. The TLS interception is package intercept's;
// the CA it uses is local, persisted, and name-constrained to the hosts the
// mock impersonates.
package mockproxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/codexauth/codexauth/intercept"
)

// Route is a host whose requests the mock serves.
type Route struct {
	Host string
	// Paths are the path prefixes the mock serves on Host; none: every path.
	Paths []string
	// What says what codex asks there.
	What string
}

// CodexRoutes are the hosts and paths codex 0.169.0 uses by default that
// the reference issuer serves (contract §1: E1-E9, E11-E13).
var CodexRoutes = []Route{
	{Host: "auth.openai.com", What: "issuer: authorize, token, revoke, device flow, discovery; auth API: whoami, agent task registration"},
	{Host: "chatgpt.com", Paths: []string{"/backend-api/wham/agent-identities/jwks", "/backend-api/wham/accounts/check"},
		What: "ChatGPT backend: agent-identity JWKS, accounts check"},
}

// Hosts lists the hosts of routes.
func Hosts(routes []Route) []string {
	var out []string
	for _, r := range routes {
		out = append(out, r.Host)
	}
	return out
}

// Config configures a Proxy.
type Config struct {
	// Issuer is the mock's base URL (it may carry a path prefix).
	Issuer *url.URL
	CA     *intercept.CA
	// Routes default to CodexRoutes.
	Routes []Route
	// PassThrough are hosts allowed through to their real destination
	// ("*.example.com" matches every subdomain). On a routed host they get
	// the paths the mock does not serve.
	PassThrough []string
	Log         *slog.Logger
	// Transport reaches pass-through hosts (default: the system's roots,
	// no proxy).
	Transport http.RoundTripper
}

// Proxy routes codex's hosts to the mock.
type Proxy struct {
	cfg     Config
	mock    http.Handler
	real    http.Handler
	handler http.Handler

	mu      sync.Mutex
	refused map[string]int
	served  map[string]int
}

// New builds the proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.Issuer == nil || !cfg.Issuer.IsAbs() {
		return nil, fmt.Errorf("the mock issuer URL must be absolute")
	}
	if cfg.CA == nil {
		return nil, fmt.Errorf("a CA is required")
	}
	if cfg.Routes == nil {
		cfg.Routes = CodexRoutes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{Proxy: nil, TLSHandshakeTimeout: 15 * time.Second, IdleConnTimeout: time.Minute}
	}
	p := &Proxy{cfg: cfg, refused: map[string]int{}, served: map[string]int{}}
	p.mock = intercept.Forward(cfg.Issuer, nil)
	p.real = &realForwarder{transport: cfg.Transport}
	p.handler = &intercept.Proxy{CA: cfg.CA, Intercept: p.interceptFor, Tunnel: p.passes, Plain: http.HandlerFunc(p.plain), Refuse: p.refuse}
	return p, nil
}

// Handler is the proxy's HTTP handler.
func (p *Proxy) Handler() http.Handler { return p.handler }

func (p *Proxy) route(host string) (Route, bool) {
	for _, r := range p.cfg.Routes {
		if strings.EqualFold(r.Host, host) {
			return r, true
		}
	}
	return Route{}, false
}

// passes reports whether host may reach its real destination.
func (p *Proxy) passes(host string) bool {
	host = strings.ToLower(host)
	for _, pt := range p.cfg.PassThrough {
		pt = strings.ToLower(pt)
		if pt == host || strings.HasPrefix(pt, "*.") && strings.HasSuffix(host, pt[1:]) {
			return true
		}
	}
	return false
}

// interceptFor returns the handler of a routed host's decrypted requests.
func (p *Proxy) interceptFor(host string) http.Handler {
	rt, ok := p.route(host)
	if !ok {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serveRouted(w, r, rt) })
}

func (p *Proxy) serveRouted(w http.ResponseWriter, r *http.Request, rt Route) {
	host := r.URL.Hostname()
	if mockServes(rt, r.URL.Path) {
		p.count(p.served, host+" "+r.URL.Path)
		p.cfg.Log.Debug("to the mock", "host", host, "method", r.Method, "path", r.URL.Path)
		p.mock.ServeHTTP(w, r)
		return
	}
	if p.passes(host) {
		p.real.ServeHTTP(w, r)
		return
	}
	p.count(p.refused, host+r.URL.Path)
	p.cfg.Log.Warn("refused: the mock does not serve this path", "host", host, "path", r.URL.Path)
	http.Error(w, fmt.Sprintf("codexauth proxy: %s%s is not served by the mock (it serves %s); pass --pass-through %s to reach the real host",
		host, r.URL.Path, strings.Join(rt.Paths, ", "), host), http.StatusForbidden)
}

func mockServes(rt Route, path string) bool {
	if len(rt.Paths) == 0 {
		return true
	}
	return slices.ContainsFunc(rt.Paths, func(pfx string) bool { return path == pfx || strings.HasPrefix(path, strings.TrimRight(pfx, "/")+"/") })
}

// plain serves absolute-form (http://) proxy requests.
func (p *Proxy) plain(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Hostname()
	if rt, ok := p.route(host); ok {
		p.serveRouted(w, r, rt)
		return
	}
	if p.passes(host) {
		p.real.ServeHTTP(w, r)
		return
	}
	p.refuse(w, r, r.URL.Host)
}

func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, hostport string) {
	p.count(p.refused, hostport)
	p.cfg.Log.Warn("refused", "host", hostport, "hint", "only the mock's hosts pass; add --pass-through HOST to allow another")
	http.Error(w, "codexauth proxy: refused "+hostport+" (only "+strings.Join(Hosts(p.cfg.Routes), ", ")+" reach the mock; --pass-through HOST allows another)", http.StatusForbidden)
}

func (p *Proxy) count(m map[string]int, k string) {
	p.mu.Lock()
	m[k]++
	p.mu.Unlock()
}

// Refused lists what was refused ("host:port" for tunnels, "host/path"
// for paths of a routed host the mock does not serve).
func (p *Proxy) Refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.refused))
	for k := range p.refused {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Served counts the requests sent to the mock, by "host path".
func (p *Proxy) Served() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.served))
	for k, v := range p.served {
		out[k] = v
	}
	return out
}

// realForwarder sends a request on to its real destination.
type realForwarder struct{ transport http.RoundTripper }

func (f *realForwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Host = r.URL.Host
	res, err := f.transport.RoundTrip(out)
	if err != nil {
		http.Error(w, "codexauth proxy: "+r.URL.Host+" unreachable: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	_, _ = copyFlushing(w, res)
}

// Environment is what codex and other clients need to use the proxy.
type Environment struct {
	ProxyURL string
	// CACert is the CA certificate alone; Bundle is the system's roots plus
	// the CA (for variables that replace the trust store).
	CACert, Bundle string
}

// Vars are the variables, in the order they are printed.
func (e Environment) Vars() [][2]string {
	noProxy := "127.0.0.1,localhost,::1"
	return [][2]string{
		{"HTTPS_PROXY", e.ProxyURL}, {"https_proxy", e.ProxyURL},
		{"NO_PROXY", noProxy}, {"no_proxy", noProxy},
		{"CODEX_CA_CERTIFICATE", e.Bundle},
		{"SSL_CERT_FILE", e.Bundle},
		{"NODE_EXTRA_CA_CERTS", e.CACert},
	}
}

// systemBundles are where Linux distributions and macOS keep their root
// certificates (the list crypto/x509 searches).
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
}

// WriteBundle writes the system's root certificates followed by the CA to
// path, so a client whose trust store is replaced by it (SSL_CERT_FILE,
// CODEX_CA_CERTIFICATE) still trusts every real host. It reports which
// system file it used ("" when none was found).
func WriteBundle(path string, ca *intercept.CA) (string, error) {
	var system []byte
	var from string
	candidates := systemBundles
	if env := os.Getenv("SSL_CERT_FILE"); env != "" && env != path {
		candidates = append([]string{env}, candidates...)
	}
	for _, c := range candidates {
		if b, err := os.ReadFile(c); err == nil && len(b) > 0 {
			system, from = b, c
			break
		}
	}
	if len(system) > 0 && system[len(system)-1] != '\n' {
		system = append(system, '\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return from, os.WriteFile(path, append(system, ca.CertPEM()...), 0o644)
}
