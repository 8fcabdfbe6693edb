package store

import (
	"context"
	"time"
)

// SigningKey is one RSA key of the issuer, PEM-encoded (possibly encrypted
// by the key manager; the store never interprets it).
type SigningKey struct {
	KID        string
	Algorithm  string
	PrivatePEM []byte
	CreatedAt  time.Time
	// RetiredAt is when the key stopped signing (zero while active).
	RetiredAt time.Time
	// DropAfter is when the key leaves the JWKS: every token it signed has
	// expired by then.
	DropAfter time.Time
}

// Active reports whether the key signs new tokens.
func (k SigningKey) Active() bool { return k.RetiredAt.IsZero() }

// SigningKeys holds the issuer's signing keys.
type SigningKeys interface {
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// EnsureActiveSigningKey inserts candidate only when no active key
	// exists and returns the active key: replicas starting together on an
	// empty store end with exactly one.
	EnsureActiveSigningKey(ctx context.Context, candidate SigningKey) (SigningKey, error)
	// RotateSigningKey retires the active key (its DropAfter set to
	// dropAfter) and makes next the active key, atomically.
	RotateSigningKey(ctx context.Context, next SigningKey, now, dropAfter time.Time) error
}

// Secrets holds server-side secrets shared by replicas (for example the key
// that derives refresh-token successors).
type Secrets interface {
	// GetOrCreateSecret returns the stored secret called name, storing
	// candidate first if there is none. Atomic across replicas.
	GetOrCreateSecret(ctx context.Context, name string, candidate []byte) ([]byte, error)
}
