// Package keys manages the issuer's RSA signing keys: generation with stable
// key ids, encryption at rest, rotation with overlap, and the JWKS document
// (RFC 7517) that publishes them.
package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/store"
)

// Bits is the RSA modulus size.
const Bits = 2048

// Key is a parsed signing key.
type Key struct {
	KID       string
	Private   *rsa.PrivateKey
	Active    bool
	DropAfter time.Time
}

// Manager holds the current keys, reloading them from the store so that a
// rotation made through one replica reaches the others.
type Manager struct {
	st         store.SigningKeys
	clock      clock.Clock
	passphrase string
	// reload is the longest a replica may serve a stale key set.
	reload time.Duration

	mu       sync.RWMutex
	keys     []Key
	loadedAt time.Time
}

// NewManager returns a manager over st. passphrase, when non-empty,
// encrypts private keys at rest (AES-256-GCM under PBKDF2-SHA256).
func NewManager(st store.SigningKeys, c clock.Clock, passphrase string) *Manager {
	return &Manager{st: st, clock: c, passphrase: passphrase, reload: 30 * time.Second}
}

// KID derives a stable key id from the public key: base64url of the first
// 12 bytes of SHA-256 over its DER encoding.
func KID(pub *rsa.PublicKey) string {
	der := x509.MarshalPKCS1PublicKey(pub)
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func (m *Manager) newKey(now time.Time) (store.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, Bits)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate RSA key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, err
	}
	blob := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if m.passphrase != "" {
		if blob, err = encrypt(blob, m.passphrase); err != nil {
			return store.SigningKey{}, err
		}
	}
	return store.SigningKey{KID: KID(&priv.PublicKey), Algorithm: "RS256", PrivatePEM: blob, CreatedAt: now}, nil
}

// Init makes sure an active key exists (creating one if the store has
// none) and loads the key set.
func (m *Manager) Init(ctx context.Context) error {
	rows, err := m.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	for _, r := range rows {
		if r.Active() {
			return m.Reload(ctx) // the common restart: no key to generate
		}
	}
	cand, err := m.newKey(m.clock.Now())
	if err != nil {
		return err
	}
	if _, err := m.st.EnsureActiveSigningKey(ctx, cand); err != nil {
		return fmt.Errorf("ensure active signing key: %w", err)
	}
	return m.Reload(ctx)
}

// Reload reads the key set from the store.
func (m *Manager) Reload(ctx context.Context) error {
	rows, err := m.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	var out []Key
	for _, r := range rows {
		blob := r.PrivatePEM
		if isEncrypted(blob) {
			if m.passphrase == "" {
				return fmt.Errorf("signing key %s is encrypted: set --key-passphrase", r.KID)
			}
			if blob, err = decrypt(blob, m.passphrase); err != nil {
				return fmt.Errorf("signing key %s: %w", r.KID, err)
			}
		}
		block, _ := pem.Decode(blob)
		if block == nil {
			return fmt.Errorf("signing key %s: not PEM", r.KID)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", r.KID, err)
		}
		priv, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("signing key %s: not RSA", r.KID)
		}
		out = append(out, Key{KID: r.KID, Private: priv, Active: r.Active(), DropAfter: r.DropAfter})
	}
	m.mu.Lock()
	m.keys, m.loadedAt = out, time.Now()
	m.mu.Unlock()
	return nil
}

func (m *Manager) snapshot(ctx context.Context) []Key {
	m.mu.RLock()
	stale := time.Since(m.loadedAt) > m.reload
	keys := m.keys
	m.mu.RUnlock()
	if stale {
		// A failed reload keeps serving the last good set: a store blip
		// must not stop token issuance with keys we already hold.
		if err := m.Reload(ctx); err == nil {
			m.mu.RLock()
			keys = m.keys
			m.mu.RUnlock()
		}
	}
	return keys
}

// Active returns the signing key.
func (m *Manager) Active(ctx context.Context) (Key, error) {
	for _, k := range m.snapshot(ctx) {
		if k.Active {
			return k, nil
		}
	}
	return Key{}, errors.New("no active signing key")
}

// Published returns the keys that belong in the JWKS now: the active one
// and retired ones whose tokens may still be live.
func (m *Manager) Published(ctx context.Context) []Key {
	now := m.clock.Now()
	var out []Key
	for _, k := range m.snapshot(ctx) {
		if k.Active || now.Before(k.DropAfter) {
			out = append(out, k)
		}
	}
	return out
}

// Lookup returns the published public key with kid, reloading once when
// the kid is unknown (it may have been rotated in by another replica).
func (m *Manager) Lookup(ctx context.Context, kid string) (*rsa.PublicKey, bool) {
	find := func() (*rsa.PublicKey, bool) {
		for _, k := range m.Published(ctx) {
			if k.KID == kid {
				return &k.Private.PublicKey, true
			}
		}
		return nil, false
	}
	if pub, ok := find(); ok {
		return pub, true
	}
	if err := m.Reload(ctx); err != nil {
		return nil, false
	}
	return find()
}

// Rotate makes a new active key. The old one stays published for
// overlap (the longest lifetime of anything it signed), then drops out.
func (m *Manager) Rotate(ctx context.Context, overlap time.Duration) (string, error) {
	now := m.clock.Now()
	next, err := m.newKey(now)
	if err != nil {
		return "", err
	}
	if err := m.st.RotateSigningKey(ctx, next, now, now.Add(overlap)); err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	return next.KID, m.Reload(ctx)
}

// JWK is one RSA public key as RFC 7517/7518 publish it.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// ToJWK encodes pub with kid.
func ToJWK(kid string, pub *rsa.PublicKey) JWK {
	return JWK{Kty: "RSA", Kid: kid, Use: "sig", Alg: "RS256",
		N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}

// Document returns the published key set.
func (m *Manager) Document(ctx context.Context) JWKS {
	doc := JWKS{Keys: []JWK{}}
	for _, k := range m.Published(ctx) {
		doc.Keys = append(doc.Keys, ToJWK(k.KID, &k.Private.PublicKey))
	}
	return doc
}

// ParseJWK decodes an RSA JWK.
func ParseJWK(j JWK) (*rsa.PublicKey, error) {
	if j.Kty != "RSA" {
		return nil, fmt.Errorf("kty %q, want RSA", j.Kty)
	}
	n, err := base64.RawURLEncoding.DecodeString(j.N)
	if err != nil {
		return nil, fmt.Errorf("n: %w", err)
	}
	e, err := base64.RawURLEncoding.DecodeString(j.E)
	if err != nil {
		return nil, fmt.Errorf("e: %w", err)
	}
	if len(n) < 256 {
		return nil, fmt.Errorf("modulus of %d bits is too small", len(n)*8)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
}

const encPrefix = "codexauth-enc-v1:"

func isEncrypted(b []byte) bool { return strings.HasPrefix(string(b), encPrefix) }

// gcmFor derives the AES-256-GCM cipher of a passphrase and salt.
func gcmFor(pass string, salt []byte) (cipher.AEAD, error) {
	k, err := pbkdf2.Key(sha256.New, pass, salt, 210_000, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func encrypt(plain []byte, pass string) ([]byte, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	gcm, err := gcmFor(pass, salt)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := gcm.Seal(nil, nonce, plain, []byte(encPrefix))
	blob := append(append(salt, nonce...), sealed...)
	return []byte(encPrefix + base64.StdEncoding.EncodeToString(blob)), nil
}

func decrypt(enc []byte, pass string) ([]byte, error) {
	blob, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(enc), encPrefix))
	if err != nil || len(blob) < 16+12+16 {
		return nil, errors.New("encrypted key is malformed")
	}
	gcm, err := gcmFor(pass, blob[:16])
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, blob[16:16+gcm.NonceSize()], blob[16+gcm.NonceSize():], []byte(encPrefix))
	if err != nil {
		return nil, errors.New("wrong key passphrase (or the key was tampered with)")
	}
	return plain, nil
}
