package mockproxy_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/intercept"
	"github.com/codexauth/codexauth/mockproxy"
)

// TestRoutesPassThroughAndRefusals: on a routed host, the mock's paths go
// to the mock and the others to the real host only when it may pass;
// unrouted hosts are tunnelled when they may pass and refused otherwise.
func TestRoutesPassThroughAndRefusals(t *testing.T) {
	mock := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mock "+r.URL.Path) }))
	defer mock.Close()
	real := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "real "+r.URL.Path) }))
	defer real.Close()
	realURL, _ := url.Parse(real.URL)
	ca, err := intercept.NewCA(intercept.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := url.Parse(mock.URL)
	realRoots := x509.NewCertPool()
	realRoots.AddCert(real.Certificate())
	build := func(passThrough ...string) *http.Client {
		p, err := mockproxy.New(mockproxy.Config{Issuer: issuer, CA: ca, PassThrough: passThrough,
			Routes:    []mockproxy.Route{{Host: "127.0.0.1", Paths: []string{"/backend-api/wham/accounts/check"}}},
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: realRoots}}})
		if err != nil {
			t.Fatal(err)
		}
		ps := httptest.NewServer(p.Handler())
		t.Cleanup(ps.Close)
		pu, _ := url.Parse(ps.URL)
		roots := ca.Pool()
		roots.AddCert(real.Certificate())
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: roots}}}
	}
	get := func(c *http.Client, u string) (int, string) {
		res, err := c.Get(u)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	base := "https://127.0.0.1:" + realURL.Port()
	closed := build()
	if st, body := get(closed, base+"/backend-api/wham/accounts/check"); st != 200 || body != "mock /backend-api/wham/accounts/check" {
		t.Fatalf("mock path: %d %q", st, body)
	}
	if st, _ := get(closed, base+"/backend-api/other"); st != 403 {
		t.Fatalf("a path the mock does not serve must be refused without --pass-through: %d", st)
	}
	open := build("127.0.0.1")
	if st, body := get(open, base+"/backend-api/other"); st != 200 || body != "real /backend-api/other" {
		t.Fatalf("pass-through path: %d %q", st, body)
	}
	if st, body := get(open, base+"/backend-api/wham/accounts/check"); st != 200 || body != "mock /backend-api/wham/accounts/check" {
		t.Fatalf("mock path with pass-through on: %d %q", st, body)
	}
	// An unrouted host (localhost is not 127.0.0.1) is tunnelled to the
	// real server only when it may pass; the client then sees the real
	// server's own certificate (issued for example.com).
	tunnelClient := func(c *http.Client) *http.Client {
		tr := c.Transport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: realRoots, ServerName: "example.com"}
		return &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	lh := "https://localhost:" + realURL.Port() + "/x"
	if st, body := get(tunnelClient(closed), lh); st != 0 || !strings.Contains(body, "Forbidden") {
		t.Fatalf("an unrouted host went through: %d %q", st, body)
	}
	if st, body := get(tunnelClient(build("*.example.org", "localhost")), lh); st != 200 || body != "real /x" {
		t.Fatalf("tunnel to a pass-through host: %d %q", st, body)
	}
}
