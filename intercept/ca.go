// Package intercept is the TLS-interception core that codexauth's HTTPS
// proxies share: a local certificate authority that issues leaf
// certificates on demand, and a CONNECT proxy (RFC 9110 §9.3.6) that
// terminates the tunnels of chosen hosts with such a certificate and serves
// their decrypted requests with an ordinary http.Handler.
//
// Two proxies are built on it: the harness's guard (harness/codexcli), which
// refuses everything but the issuer under test, and `codexauth proxy`
// (package mockproxy), which sends codex's default hosts to a local mock.
// It imports only the standard library, so the harness may use it without
// sharing code with the issuer it checks.
package intercept

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// CAOptions describe a new certificate authority.
type CAOptions struct {
	// CommonName is the CA's subject name, shown by trust stores.
	CommonName string
	// Validity is how long the CA certificate is valid (default 24 h).
	Validity time.Duration
	// PermittedHosts, when set, name-constrains the CA (RFC 5280
	// §4.2.1.10): it can vouch only for these DNS names and their
	// subdomains, so trusting it never lets it impersonate any other site.
	PermittedHosts []string
}

// CA is a certificate authority that issues TLS leaf certificates for the
// hosts a proxy intercepts. Leaves are made on demand, cached per host and
// share one key.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte

	mu      sync.Mutex
	leafKey *ecdsa.PrivateKey
	leaves  map[string]*tls.Certificate
}

// leafValidity bounds leaf certificates; a leaf is renewed an hour before
// it expires.
const leafValidity = 7 * 24 * time.Hour

// NewCA creates a CA with a fresh ECDSA P-256 key.
func NewCA(o CAOptions) (*CA, error) {
	if o.Validity <= 0 {
		o.Validity = 24 * time.Hour
	}
	if o.CommonName == "" {
		o.CommonName = "codexauth local CA"
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: o.CommonName, Organization: []string{"codexauth"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(o.Validity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
	}
	if len(o.PermittedHosts) > 0 {
		tmpl.PermittedDNSDomains = slices.Clone(o.PermittedHosts)
		tmpl.PermittedDNSDomainsCritical = true
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return ParseCA(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// ParseCA reads a CA certificate and its PKCS#8 ECDSA key (PEM).
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("CA certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("CA certificate: not a CA")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("CA key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("CA key: not the ECDSA key of the CA certificate")
	}
	return &CA{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM, leaves: map[string]*tls.Certificate{}}, nil
}

// Files of a CA kept in a folder by LoadOrCreateCA.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

// LoadOrCreateCA returns the CA kept in dir, creating (and saving) a new one
// when there is none, when it expires within a day, or when its name
// constraints differ from o.PermittedHosts. The key file is private (0600).
// created reports whether a new CA was made.
func LoadOrCreateCA(dir string, o CAOptions) (ca *CA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	if cerr == nil && kerr == nil {
		ca, err := ParseCA(certPEM, keyPEM)
		if err != nil {
			return nil, false, fmt.Errorf("CA in %s: %w (delete the folder to start over)", dir, err)
		}
		if time.Until(ca.cert.NotAfter) > 24*time.Hour && sameHosts(ca.cert.PermittedDNSDomains, o.PermittedHosts) {
			return ca, false, nil
		}
	} else if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
		return nil, false, fmt.Errorf("read %s: %w", certPath, cerr)
	}
	ca, err = NewCA(o)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("CA folder: %w", err)
	}
	if err := os.WriteFile(keyPath, ca.keyPEM, 0o600); err != nil {
		return nil, false, fmt.Errorf("write CA key: %w", err)
	}
	if err := os.WriteFile(certPath, ca.certPEM, 0o644); err != nil {
		return nil, false, fmt.Errorf("write CA certificate: %w", err)
	}
	return ca, true, nil
}

func sameHosts(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// CertPEM is the CA certificate, PEM-encoded: what clients must trust.
func (c *CA) CertPEM() []byte { return slices.Clone(c.certPEM) }

// Certificate is the parsed CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Pool is a certificate pool holding only the CA.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// Leaf returns a server certificate for host (a DNS name or an IP address)
// signed by the CA, with the CA in its chain.
func (c *CA) Leaf(host string) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.leaves[host]; ok && time.Until(l.Leaf.NotAfter) > time.Hour {
		return l, nil
	}
	if c.leafKey == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("leaf key: %w", err)
		}
		c.leafKey = k
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	notAfter := now.Add(leafValidity)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: host},
		NotBefore: now.Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &c.leafKey.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate for %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	l := &tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: c.leafKey, Leaf: leaf}
	c.leaves[host] = l
	return l, nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
