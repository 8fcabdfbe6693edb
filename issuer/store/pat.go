package store

import (
	"context"
	"time"
)

// PersonalAccessToken is an "at-…" token codex resolves through whoami (§9.1).
type PersonalAccessToken struct {
	Hash      string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// PersonalAccessTokens holds personal access tokens (hashed).
type PersonalAccessTokens interface {
	CreatePAT(ctx context.Context, p PersonalAccessToken) error
	// GetPAT returns the token record whatever its state; callers check
	// expiry and revocation.
	GetPAT(ctx context.Context, hash string) (PersonalAccessToken, error)
	RevokePAT(ctx context.Context, hash string, now time.Time) error
}
