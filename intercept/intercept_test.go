package intercept_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/intercept"
)

// TestNameConstrainedCA: a CA limited to some hosts issues leaves that
// verify for those hosts only; a leaf it issues for any other host is
// rejected by a verifier that honours RFC 5280 name constraints.
func TestNameConstrainedCA(t *testing.T) {
	ca, err := intercept.NewCA(intercept.CAOptions{CommonName: "test", PermittedHosts: []string{"auth.openai.com", "chatgpt.com"}})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(host string) error {
		leaf, err := ca.Leaf(host)
		if err != nil {
			return err
		}
		_, err = leaf.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool()})
		return err
	}
	for _, ok := range []string{"auth.openai.com", "chatgpt.com"} {
		if err := verify(ok); err != nil {
			t.Errorf("leaf for permitted %s: %v", ok, err)
		}
	}
	if err := verify("example.com"); err == nil {
		t.Error("a leaf for example.com verified: the name constraint is not enforced")
	}
}

// TestLoadOrCreateCAPersists: the CA is created once, its key kept private,
// and the same CA is loaded again; other constraints make a new one.
func TestLoadOrCreateCAPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	o := intercept.CAOptions{CommonName: "persisted", Validity: 48 * time.Hour, PermittedHosts: []string{"auth.openai.com"}}
	a, created, err := intercept.LoadOrCreateCA(dir, o)
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, intercept.KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st.Mode(), err)
	}
	b, created, err := intercept.LoadOrCreateCA(dir, o)
	if err != nil || created || string(a.CertPEM()) != string(b.CertPEM()) {
		t.Fatalf("second load: created=%v err=%v same=%v", created, err, string(a.CertPEM()) == string(b.CertPEM()))
	}
	o.PermittedHosts = append(o.PermittedHosts, "chatgpt.com")
	c, created, err := intercept.LoadOrCreateCA(dir, o)
	if err != nil || !created || string(c.CertPEM()) == string(a.CertPEM()) {
		t.Fatalf("changed hosts must make a new CA: created=%v err=%v", created, err)
	}
}

// TestProxyInterceptsTunnelsAndRefuses: through one proxy, an intercepted
// host reaches the handler (over TLS from the CA, keep-alive included), an
// allowed host is tunnelled to its real server untouched, and any other
// host is refused.
func TestProxyInterceptsTunnelsAndRefuses(t *testing.T) {
	ca, err := intercept.NewCA(intercept.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	real := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "real server") }))
	defer real.Close()
	realHost, _, _ := net.SplitHostPort(real.Listener.Addr().String())
	p := &intercept.Proxy{CA: ca,
		Intercept: func(host string) http.Handler {
			if host != "auth.example" {
				return nil
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mock saw "+r.URL.String()) })
		},
		Tunnel: func(host string) bool { return host == realHost },
	}
	ps := httptest.NewServer(p)
	defer ps.Close()
	pu, _ := url.Parse(ps.URL)
	roots := ca.Pool()
	roots.AddCert(real.Certificate())
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: roots}}}
	get := func(u string) (int, string, error) {
		res, err := c.Get(u)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), nil
	}
	for i := 0; i < 2; i++ { // the second request reuses the tunnel
		if st, body, err := get("https://auth.example/x?y=1"); err != nil || st != 200 || body != "mock saw https://auth.example/x?y=1" {
			t.Fatalf("intercepted request %d: %d %q %v", i, st, body, err)
		}
	}
	if st, body, err := get(real.URL + "/"); err != nil || st != 200 || body != "real server" {
		t.Fatalf("tunnelled request: %d %q %v", st, body, err)
	}
	if _, _, err := get("https://other.example/"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("a host neither intercepted nor allowed went through: %v", err)
	}
}

// TestForwardPresentsRequestsAsTheUpstreams: Origin and Referer naming the
// intercepted origin become the upstream's, and a redirect into the
// upstream comes back on the intercepted host.
func TestForwardPresentsRequestsAsTheUpstreams(t *testing.T) {
	var origin, referer, host string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin, referer, host = r.Header.Get("Origin"), r.Header.Get("Referer"), r.Host+" "+r.URL.Path
		http.Redirect(w, r, "http://"+r.Host+"/prefix/next?a=b", http.StatusFound)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL + "/prefix")
	fwd := intercept.Forward(u, nil)
	req := httptest.NewRequest("POST", "https://auth.example/login", nil)
	req.Header.Set("Origin", "https://auth.example")
	req.Header.Set("Referer", "https://auth.example/login?x=1")
	rec := httptest.NewRecorder()
	fwd.ServeHTTP(rec, req)
	if origin != "http://"+u.Host || referer != up.URL+"/prefix/login?x=1" || host != u.Host+" /prefix/login" {
		t.Fatalf("upstream saw Origin %q, Referer %q, %q", origin, referer, host)
	}
	if loc := rec.Header().Get("Location"); loc != "https://auth.example/next?a=b" {
		t.Fatalf("Location %q", loc)
	}
}
