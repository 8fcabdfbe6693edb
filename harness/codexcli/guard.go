package codexcli

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Guard is the HTTP(S) proxy every codex run is pointed at. It refuses
// every destination locally and records what was attempted, so nothing a
// codex run does can reach the internet (the contract's §2.3 safety rule).
// Hosts registered with Intercept are the exception: their CONNECT tunnels
// are terminated with a certificate from a throwaway CA and the plaintext
// requests are forwarded to the issuer under test — how codex's browser
// login, which always talks to https://auth.openai.com, reaches it.
type Guard struct {
	ln      net.Listener
	srv     *http.Server
	mu      sync.Mutex
	refused map[string]int
	routes  map[string]*url.URL // intercepted host → upstream base URL
	seen    map[string]int      // intercepted requests, "host path"
	ca      *x509.Certificate
	caKey   *ecdsa.PrivateKey
	caPEM   string
	leaves  map[string]*tls.Certificate
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
	g := &Guard{ln: ln, refused: map[string]int{}, routes: map[string]*url.URL{}, seen: map[string]int{}, leaves: map[string]*tls.Certificate{}}
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serve), ReadHeaderTimeout: 10 * time.Second}
	go g.srv.Serve(ln)
	return g, nil
}

// URL is the proxy URL for HTTPS_PROXY and friends.
func (g *Guard) URL() string { return "http://" + g.ln.Addr().String() }

// Intercept routes host (e.g. "auth.openai.com") to upstream (the issuer
// base URL). The first call creates the throwaway CA.
func (g *Guard) Intercept(host, upstream string) error {
	u, err := url.Parse(strings.TrimRight(upstream, "/"))
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ca == nil {
		if err := g.newCA(); err != nil {
			return err
		}
	}
	g.routes[host] = u
	return nil
}

// WriteCA writes the CA certificate (PEM) for CODEX_CA_CERTIFICATE.
func (g *Guard) WriteCA(dir string) (string, error) {
	g.mu.Lock()
	pemText := g.caPEM
	g.mu.Unlock()
	if pemText == "" {
		return "", fmt.Errorf("no CA: call Intercept first")
	}
	path := filepath.Join(dir, "codexauth-test-ca.pem")
	return path, os.WriteFile(path, []byte(pemText), 0o600)
}

func (g *Guard) newCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "codexauth throwaway test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	g.ca, _ = x509.ParseCertificate(der)
	g.caKey = key
	g.caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return nil
}

func (g *Guard) leaf(host string) (*tls.Certificate, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.leaves[host]; ok {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, g.ca, &key.PublicKey, g.caKey)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der, g.ca.Raw}, PrivateKey: key}
	g.leaves[host] = c
	return c, nil
}

func (g *Guard) refuse(w http.ResponseWriter, host string) {
	g.mu.Lock()
	g.refused[host]++
	g.mu.Unlock()
	http.Error(w, "codexauth guard: refused "+host+" (only the issuer under test is reachable)", http.StatusForbidden)
}

func (g *Guard) serve(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if r.Method != http.MethodConnect && r.URL.Host != "" {
		host = r.URL.Host
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	g.mu.Lock()
	upstream := g.routes[name]
	g.mu.Unlock()
	if r.Method != http.MethodConnect || upstream == nil {
		g.refuse(w, host)
		return
	}
	cert, err := g.leaf(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		return
	}
	var raw net.Conn = conn
	if buf.Reader.Buffered() > 0 {
		raw = &prefixConn{Conn: conn, r: buf.Reader}
	}
	tconn := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}})
	if err := tconn.Handshake(); err != nil {
		return
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(upstream)
		pr.Out.Host = upstream.Host
		if g.MarkIntercepted != "" {
			pr.Out.Header.Set(g.MarkIntercepted, name)
		}
	}}
	br := bufio.NewReader(tconn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		g.mu.Lock()
		g.seen[name+" "+req.URL.Path]++
		g.mu.Unlock()
		req.URL.Scheme, req.URL.Host = "https", name
		rw := newConnResponseWriter(tconn)
		proxy.ServeHTTP(rw, req.WithContext(r.Context()))
		if err := rw.finish(); err != nil || req.Close {
			return
		}
	}
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

type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// connResponseWriter buffers one response and writes it to the TLS
// connection with a Content-Length, keeping the connection reusable.
type connResponseWriter struct {
	conn   net.Conn
	header http.Header
	status int
	body   []byte
}

func newConnResponseWriter(c net.Conn) *connResponseWriter {
	return &connResponseWriter{conn: c, header: http.Header{}}
}

func (w *connResponseWriter) Header() http.Header { return w.header }
func (w *connResponseWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *connResponseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

func (w *connResponseWriter) finish() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	res := &http.Response{StatusCode: w.status, ProtoMajor: 1, ProtoMinor: 1, Header: w.header,
		ContentLength: int64(len(w.body)), Body: http.NoBody}
	res.Header.Del("Transfer-Encoding")
	res.Header.Set("Content-Length", fmt.Sprint(len(w.body)))
	if len(w.body) > 0 {
		res.Body = nopBody{strings.NewReader(string(w.body))}
	}
	return res.Write(w.conn)
}

type nopBody struct{ *strings.Reader }

func (nopBody) Close() error { return nil }
