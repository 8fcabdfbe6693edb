package intercept

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Proxy is an HTTP proxy. A CONNECT request (RFC 9110 §9.3.6) to a host
// that Intercept claims is answered 200, its TLS is terminated with a leaf
// of CA, and the decrypted requests inside the tunnel are served by the
// handler Intercept returned, with r.URL set to https://host[:port]/path. A CONNECT
// that Tunnel allows is spliced through to its real destination untouched.
// Requests in absolute form (plain http:// proxying) go to Plain. Anything
// else is refused.
type Proxy struct {
	CA *CA
	// Intercept returns the handler for the decrypted requests of a tunnel
	// to host (a name without port), or nil when host is not intercepted.
	Intercept func(host string) http.Handler
	// Tunnel reports whether a tunnel to host (no port) that is not
	// intercepted may pass unmodified. nil: none may.
	Tunnel func(host string) bool
	// Plain serves requests in absolute form; nil refuses them.
	Plain http.Handler
	// Refuse answers a refused request; hostport is what the client asked
	// for. Default: 403 with a one-line explanation.
	Refuse func(w http.ResponseWriter, r *http.Request, hostport string)
	// ErrorLog receives TLS and connection errors (default: discarded).
	ErrorLog *log.Logger
}

// ServeHTTP implements the proxy.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		if r.URL.IsAbs() && p.Plain != nil {
			p.Plain.ServeHTTP(w, r)
			return
		}
		hostport := r.Host
		if r.URL.Host != "" {
			hostport = r.URL.Host
		}
		p.refuse(w, r, hostport)
		return
	}
	host := hostOnly(r.Host)
	if p.Intercept != nil && p.CA != nil {
		if h := p.Intercept(host); h != nil {
			p.intercept(w, r, host, h)
			return
		}
	}
	if p.Tunnel != nil && p.Tunnel(host) {
		p.tunnel(w, r)
		return
	}
	p.refuse(w, r, r.Host)
}

func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, hostport string) {
	if p.Refuse != nil {
		p.Refuse(w, r, hostport)
		return
	}
	http.Error(w, "proxy refused "+hostport, http.StatusForbidden)
}

func (p *Proxy) logf(format string, a ...any) {
	if p.ErrorLog != nil {
		p.ErrorLog.Printf(format, a...)
	}
}

// hijack takes over the client connection and confirms the tunnel.
func hijack(w http.ResponseWriter) (net.Conn, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "proxy: connection cannot be taken over", http.StatusInternalServerError)
		return nil, errors.New("response writer is not a Hijacker")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		return nil, err
	}
	if buf.Reader.Buffered() > 0 {
		return &prefixConn{Conn: conn, r: buf.Reader}, nil
	}
	return conn, nil
}

func (p *Proxy) intercept(w http.ResponseWriter, r *http.Request, host string, h http.Handler) {
	leaf, err := p.CA.Leaf(host)
	if err != nil {
		p.logf("intercept %s: %v", host, err)
		http.Error(w, "proxy: no certificate for "+host, http.StatusInternalServerError)
		return
	}
	conn, err := hijack(w)
	if err != nil {
		p.logf("intercept %s: %v", host, err)
		return
	}
	urlHost := host // https://host/…, with the port when it is not 443
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "443" {
		urlHost = net.JoinHostPort(host, port)
	}
	tconn := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{*leaf}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12})
	ServeConn(tconn, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.URL.Scheme, req.URL.Host = "https", urlHost
		h.ServeHTTP(w, req)
	}), p.ErrorLog)
}

func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	hostport := r.Host
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "443")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", hostport)
	cancel()
	if err != nil {
		http.Error(w, "proxy: cannot reach "+hostport+": "+err.Error(), http.StatusBadGateway)
		return
	}
	defer up.Close()
	conn, err := hijack(w)
	if err != nil {
		p.logf("tunnel %s: %v", hostport, err)
		return
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	splice := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if c, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = c.CloseWrite()
		}
		done <- struct{}{}
	}
	go splice(up, conn)
	go splice(conn, up)
	<-done
	<-done
}

// ServeConn serves HTTP/1.1 on one connection (for example a terminated TLS
// tunnel) with the standard server, keep-alive included, and returns when
// the connection is closed.
func ServeConn(c net.Conn, h http.Handler, errorLog *log.Logger) {
	ln := &oneConnListener{conn: c, closed: make(chan struct{})}
	if errorLog == nil {
		errorLog = log.New(io.Discard, "", 0)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: errorLog,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				ln.Close()
			}
		}}
	_ = srv.Serve(ln)
}

// oneConnListener hands out one connection, then blocks until closed.
type oneConnListener struct {
	mu     sync.Mutex
	conn   net.Conn
	once   sync.Once
	closed chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return dummyAddr{} }

type dummyAddr struct{}

func (dummyAddr) Network() string { return "tcp" }
func (dummyAddr) String() string  { return "tunnel" }

type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// Forward returns a reverse proxy to upstream (a base URL, possibly with a
// path prefix) that presents intercepted requests as the upstream's own:
// the Host, and an Origin or Referer naming the intercepted origin, become
// the upstream's; a Location pointing into the upstream is turned back into
// the intercepted origin, so a browser stays on the host it asked for.
// transport nil uses a transport without any proxy.
func Forward(upstream *url.URL, transport http.RoundTripper) http.Handler {
	if transport == nil {
		transport = &http.Transport{Proxy: nil, ForceAttemptHTTP2: false, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}
	}
	base := strings.TrimRight(upstream.String(), "/")
	upOrigin := upstream.Scheme + "://" + upstream.Host
	return &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			inOrigin := "https://" + pr.In.Host
			pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), interceptedHostKey{}, pr.In.Host))
			pr.SetURL(upstream)
			pr.Out.Host = upstream.Host
			if o := pr.Out.Header.Get("Origin"); o == inOrigin {
				pr.Out.Header.Set("Origin", upOrigin)
			}
			if ref := pr.Out.Header.Get("Referer"); strings.HasPrefix(ref, inOrigin+"/") {
				pr.Out.Header.Set("Referer", base+strings.TrimPrefix(ref, inOrigin))
			}
		},
		ModifyResponse: func(res *http.Response) error {
			if loc := res.Header.Get("Location"); loc == base || strings.HasPrefix(loc, base+"/") || strings.HasPrefix(loc, base+"?") {
				if in, _ := res.Request.Context().Value(interceptedHostKey{}).(string); in != "" {
					res.Header.Set("Location", "https://"+in+strings.TrimPrefix(loc, base))
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "proxy: upstream "+upstream.Host+" unreachable: "+err.Error(), http.StatusBadGateway)
		},
	}
}

type interceptedHostKey struct{}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}
