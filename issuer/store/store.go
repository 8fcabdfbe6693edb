// Package store defines the issuer's persistence contract. Every backend
// (memory, SQLite, PostgreSQL) implements Store and passes the same
// behavioural suite in storetest.
//
// Two rules shape the interface:
//   - Secrets (codes, refresh tokens, device ids, session ids) are only ever
//     handed to the store as hashes (see Hash); no backend sees a plaintext.
//   - Every one-time step (consuming a code, claiming a device code, rotating a
//     refresh token) is a single method that a backend performs atomically, so
//     correctness under concurrency never depends on the caller.
//
// Errors: the sentinel errors below carry protocol meaning. Any other error is
// an outage and must be reported to clients as transient, never as a token
// error.
package store

//go:generate go run ./internal/genfailing -out failing_gen.go

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

// Sentinel errors. Backends return them (possibly wrapped) for the documented
// conditions; everything else is an infrastructure failure.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrExpired     = errors.New("store: expired")
	ErrAlreadyUsed = errors.New("store: already used")
	ErrConflict    = errors.New("store: conflict")
	ErrPending     = errors.New("store: authorization pending")
	ErrDenied      = errors.New("store: authorization denied")
)

// Hash is how every secret is keyed at rest: unpadded base64url of SHA-256.
// The inputs are high-entropy random values, so an unsalted fast hash is the
// right tool (a slow KDF would only cost latency).
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Store is the whole persistence contract of the issuer: the union of one
// small interface per aggregate, each in its own file (users.go, codes.go,
// device.go, refresh.go, access.go, sessions.go, keys.go, agents.go, pat.go).
// Backends implement Store; code that needs one aggregate can depend on its
// small interface alone (a handler of the refresh grant on RefreshTokens,
// AccessTokens and Users, say), which also makes it cheap to fake.
//
// The outage wrapper Failing is generated from this interface (go generate):
// a new method needs no hand-written wrapper.
type Store interface {
	Users
	AuthCodes
	DeviceCodes
	RefreshTokens
	AccessTokens
	Sessions
	SigningKeys
	Secrets
	AgentIdentities
	PersonalAccessTokens
	Maintenance
}

// Maintenance is what the server does to a backend as a whole.
type Maintenance interface {
	// DeleteExpired removes rows that can no longer matter at now (expired
	// codes, sessions, long-dead families) and reports how many went.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}
