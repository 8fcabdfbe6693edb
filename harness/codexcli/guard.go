package codexcli

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
)

// Guard is the HTTP(S) proxy every codex run is pointed at. It refuses
// every destination locally and records what was attempted, so nothing a
// codex run does can reach the internet (the contract's §2.3 safety rule).
type Guard struct {
	ln      net.Listener
	srv     *http.Server
	mu      sync.Mutex
	refused map[string]int
}

// StartGuard listens on a free loopback port.
func StartGuard() (*Guard, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("guard proxy: %w", err)
	}
	g := &Guard{ln: ln, refused: map[string]int{}}
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serve)}
	go g.srv.Serve(ln)
	return g, nil
}

// URL is the proxy URL for HTTPS_PROXY and friends.
func (g *Guard) URL() string { return "http://" + g.ln.Addr().String() }

func (g *Guard) serve(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if r.Method != http.MethodConnect && r.URL.Host != "" {
		host = r.URL.Host
	}
	g.mu.Lock()
	g.refused[host]++
	g.mu.Unlock()
	http.Error(w, "codexauth guard: refused "+host+" (only the issuer under test is reachable)", http.StatusForbidden)
}

// Refused lists the destinations that were attempted and refused.
func (g *Guard) Refused() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.refused))
	for h := range g.refused {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Close stops the proxy.
func (g *Guard) Close() error { return g.srv.Close() }
