package store

import (
	"context"
	"time"
)

// AuthCode is an authorization code (RFC 6749 §4.1) bound to its client,
// redirect URI and PKCE challenge (RFC 7636).
type AuthCode struct {
	Hash          string
	ClientID      string
	RedirectURI   string
	CodeChallenge string
	Scope         string
	UserID        string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	// UsedAt is set by ConsumeAuthCode. FamilyID names the token family the
	// first exchange created, so a replayed code can revoke it (RFC 6749 §4.1.2).
	UsedAt   time.Time
	FamilyID string
}

// AuthCodes holds authorization codes.
type AuthCodes interface {
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// ConsumeAuthCode atomically marks the code used and records familyID.
	// A code used before returns the stored code and ErrAlreadyUsed; an
	// expired one ErrExpired; an unknown one ErrNotFound.
	ConsumeAuthCode(ctx context.Context, hash string, now time.Time, familyID string) (AuthCode, error)
}
