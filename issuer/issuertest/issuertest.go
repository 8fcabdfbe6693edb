// Package issuertest runs the codexauth reference issuer in-process for Go
// tests, the way net/http/httptest runs a server: a developer of a codex
// client (or a gateway, or a codex-like CLI) starts a real issuer on
// loopback, signs users in, moves the issuer's clock past expiry, switches
// deliberate defects on, and writes a ready auth.json — all without a
// binary, a port to pick, or clean-up code.
//
//	func TestMyClientRefreshes(t *testing.T) {
//		iss := issuertest.New(t, issuertest.WithAccessTTL(10*time.Minute))
//		tokens := iss.SignIn(t, "alice")
//		iss.Advance(9 * time.Minute) // inside codex's 300 s refresh window
//		// … run the client against iss.URL with tokens.RefreshToken …
//	}
//
// Everything goes through the issuer's real HTTP endpoints and admin API, so
// a test exercises exactly what a client meets in production. The issuer
// keeps its state in memory unless WithStore gives it another store.
package issuertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/store"
	"github.com/codexauth/codexauth/issuer/store/memory"
)

// Issuer is a running reference issuer.
type Issuer struct {
	// URL is the issuer base URL (http://127.0.0.1:PORT), what codex's
	// --experimental_issuer and a client's discovery take.
	URL string
	// AdminToken is the bearer token of URL/__admin (always enabled here).
	AdminToken string
	// InternalSecret is the X-Internal-Secret of ValidateURL.
	InternalSecret string
	// ValidateURL is the gateway validate endpoint.
	ValidateURL string
	// ClientID is codex's client id, registered by default.
	ClientID string
	// CertPEM is the certificate of the throwaway CA that signed the
	// issuer's TLS certificate (WithTLS), for clients in other processes:
	// NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, CODEX_CA_CERTIFICATE.
	CertPEM []byte

	server *issuer.Server
	clock  *clock.Adjustable
	http   *http.Server
	admin  *adminClient
	client *http.Client
}

// Option configures an Issuer.
type Option func(*options)

type options struct {
	cfg    issuer.Config
	users  []issuer.UserFixture
	faults []string
	store  store.Store
	tls    bool
}

// WithUsers replaces the default users (alice and bob) with fixtures.
func WithUsers(users ...issuer.UserFixture) Option {
	return func(o *options) { o.users = users }
}

// WithFaults switches deliberate defects of the catalogue on from the start
// (see `codexauth selftest --list` or docs/faults.md for the names).
func WithFaults(names ...string) Option {
	return func(o *options) { o.faults = append(o.faults, names...) }
}

// WithAccessTTL sets the access-token lifetime. Values at or below codex's
// 300 s proactive-refresh window are allowed here (tests use them on
// purpose).
func WithAccessTTL(d time.Duration) Option {
	return func(o *options) { o.cfg.AccessTTL, o.cfg.AllowShortAccessTTL = d, true }
}

// WithReuseGrace opens a reuse grace window: a rotated-out refresh token
// presented within d yields its same successor instead of counting as reuse.
func WithReuseGrace(d time.Duration) Option {
	return func(o *options) { o.cfg.ReuseGrace = d }
}

// WithAutoApprove makes the issuer approve every device code for user and
// sign user in at /oauth/authorize without a page (mock mode).
func WithAutoApprove(user string) Option {
	return func(o *options) { o.cfg.AutoApproveUser = user }
}

// WithDeviceInterval sets the polling interval the device flow announces
// (default 1 s here, so device logins in tests take about a second).
func WithDeviceInterval(seconds int) Option {
	return func(o *options) { o.cfg.DeviceInterval = seconds }
}

// WithClient registers a public client id besides codex's, and redirect
// URIs besides codex's loopback callbacks: what an OpenID Connect client
// other than codex needs (RFC 6749 §2).
func WithClient(clientID string, redirectURIs ...string) Option {
	return func(o *options) {
		if len(o.cfg.ClientIDs) == 0 {
			o.cfg.ClientIDs = []string{issuer.CodexClientID}
		}
		o.cfg.ClientIDs = append(o.cfg.ClientIDs, clientID)
		o.cfg.RedirectURIs = append(o.cfg.RedirectURIs, redirectURIs...)
	}
}

// WithTLS serves the issuer over HTTPS (URL https://127.0.0.1:PORT) with a
// certificate from a throwaway private CA: Client trusts it, CertPEM hands
// the CA to other processes. Some clients accept nothing else (openid-client refuses
// plain HTTP by default).
func WithTLS() Option {
	return func(o *options) { o.tls = true }
}

// WithStore keeps state in st instead of memory (e.g. a SQLite file).
func WithStore(st store.Store) Option {
	return func(o *options) { o.store = st }
}

// WithLogger sends the issuer's logs to l (default: discarded).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.cfg.Logger = l }
}

// WithVersion sets the version the issuer reports in its admin state.
func WithVersion(v string) Option {
	return func(o *options) { o.cfg.Version = v }
}

// New starts an issuer on a free loopback port and stops it when the test
// ends. It fails the test if the issuer cannot start.
func New(t testing.TB, opts ...Option) *Issuer {
	t.Helper()
	iss, err := Start(context.Background(), opts...)
	if err != nil {
		t.Fatalf("issuertest: %v", err)
	}
	t.Cleanup(iss.Close)
	return iss
}

// Start is New without a testing.TB: the caller must Close the issuer.
// (`codexauth conform` starts its built-in target this way.)
func Start(ctx context.Context, opts ...Option) (*Issuer, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.users == nil {
		o.users = issuer.DefaultUsers()
	}
	if o.store == nil {
		o.store = memory.New()
	}
	if err := issuer.SeedUsers(ctx, o.store, o.users); err != nil {
		return nil, fmt.Errorf("seed users: %w", err)
	}
	fs, err := faults.NewSet(o.faults...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	cfg := o.cfg
	cfg.PublicURL = "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 15 * time.Second}
	var certPEM []byte
	if o.tls {
		var tlsCfg *tls.Config
		if certPEM, tlsCfg, err = throwawayCA(); err != nil {
			ln.Close()
			return nil, err
		}
		ln = tls.NewListener(ln, tlsCfg)
		cfg.PublicURL = "https://" + ln.Addr().String()
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	cfg.Store = o.store
	cfg.Faults = fs
	cfg.AdminToken = "issuertest-admin-" + randomHex(16)
	cfg.InternalSecret = "issuertest-secret-" + randomHex(16)
	clk := clock.NewAdjustable(nil)
	cfg.Clock = clk
	cfg.GCInterval = -1
	if cfg.DeviceInterval == 0 {
		cfg.DeviceInterval = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := issuer.New(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("start issuer: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	iss := &Issuer{URL: cfg.PublicURL, AdminToken: cfg.AdminToken, InternalSecret: cfg.InternalSecret,
		ValidateURL: cfg.PublicURL + "/internal/codex-auth/validate", ClientID: issuer.CodexClientID, CertPEM: certPEM,
		server: srv, clock: clk, http: hs, client: client}
	iss.admin = &adminClient{base: iss.URL, token: iss.AdminToken, http: client}
	return iss, nil
}

// Client is an HTTP client for the issuer: it trusts the issuer's
// certificate under WithTLS (pass it to go-oidc with oidc.ClientContext).
func (i *Issuer) Client() *http.Client { return i.client }

// throwawayCA makes a private CA and a P-256 server certificate it signs
// for 127.0.0.1 and localhost, both valid for a day, and the server
// configuration that presents the leaf. It returns the CA's certificate:
// what a client in another process trusts. A self-signed leaf would not
// do: rustls (codex) refuses a CA certificate used as a server's.
func throwawayCA() ([]byte, *tls.Config, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tls CA key: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tls key: %w", err)
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
		return n
	}
	notBefore, notAfter := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	ca := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "issuertest CA"},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("tls CA certificate: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, nil, err
	}
	leaf := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "issuertest"},
		NotBefore: notBefore, NotAfter: notAfter,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("tls certificate: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	chain := tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
	return caPEM, &tls.Config{Certificates: []tls.Certificate{chain}, MinVersion: tls.VersionTLS12}, nil
}

// Close stops the issuer. Safe to call twice.
func (i *Issuer) Close() {
	if i.http != nil {
		_ = i.http.Close()
	}
}

// Server is the issuer itself, for what the helper does not wrap.
func (i *Issuer) Server() *issuer.Server { return i.server }

// Now is the issuer's current time.
func (i *Issuer) Now() time.Time { return i.clock.Now() }

// Advance moves the issuer's clock forward by d: tokens expire, device codes
// lapse, grace windows close — at once. (codex itself judges expiry on the
// real clock; to put the real codex inside its refresh window, shorten the
// access-token lifetime instead.)
func (i *Issuer) Advance(d time.Duration) time.Time { return i.clock.Advance(d) }

// ResetClock puts the issuer back on the wall clock.
func (i *Issuer) ResetClock() { i.clock.Reset() }

// SetOutage makes every store call fail (true) or work again (false): the
// issuer then answers 503 temporarily_unavailable, as in a real outage.
func (i *Issuer) SetOutage(on bool) { i.server.SetOutage(on) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
