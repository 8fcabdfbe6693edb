package store

import (
	"context"
	"time"
)

// Family is a chain of refresh tokens descending from one login.
type Family struct {
	ID           string
	UserID       string
	ClientID     string
	Scope        string
	CreatedAt    time.Time
	RevokedAt    time.Time
	RevokeReason string
}

// Revoked reports whether the family is dead.
func (f Family) Revoked() bool { return !f.RevokedAt.IsZero() }

// RefreshToken is one link of a family. Only the newest unrotated link is live.
type RefreshToken struct {
	Hash       string
	FamilyID   string
	ParentHash string
	ChildHash  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RotatedAt  time.Time
}

// RotateOutcome is what RotateRefreshToken decided.
type RotateOutcome int

// Outcomes of a rotation attempt.
const (
	// Rotated: the presented token was live; Child is its new successor.
	Rotated RotateOutcome = iota + 1
	// GraceReplay: the presented token was rotated to ChildHash within the
	// grace window and that child is still the live tip; hand it out again.
	GraceReplay
	// Reused: a rotated-out token was presented; the family is now revoked.
	Reused
	// FamilyRevoked: the presented token belongs to a revoked family.
	FamilyRevoked
	// Expired: the presented token outlived its lifetime.
	Expired
	// Unknown: no such token.
	Unknown
	// WrongClient: the token belongs to another client; nothing changed.
	WrongClient
)

// HandsOutTokens reports whether the caller answers the attempt with tokens
// (RFC 6749 §5.1) rather than an error (§5.2).
func (o RotateOutcome) HandsOutTokens() bool { return o == Rotated || o == GraceReplay }

func (o RotateOutcome) String() string {
	switch o {
	case Rotated:
		return "rotated"
	case GraceReplay:
		return "grace-replay"
	case Reused:
		return "reused"
	case FamilyRevoked:
		return "family-revoked"
	case Expired:
		return "expired"
	case Unknown:
		return "unknown"
	case WrongClient:
		return "wrong-client"
	}
	return "invalid"
}

// RotateParams describe one rotation attempt.
type RotateParams struct {
	PresentedHash string
	// ChildHash is the hash of the successor the caller will hand out. The
	// caller derives the successor deterministically from the presented
	// token, so a grace replay can return the very same child.
	ChildHash      string
	ChildExpiresAt time.Time
	Now            time.Time
	Grace          time.Duration
	// ClientID, when set, must own the family; a mismatch changes nothing.
	ClientID string
	// Access, when set, is recorded in the same atomic step when the
	// attempt hands out tokens (Rotated, GraceReplay): the access token the
	// caller will sign with that JTI is then known exactly when the rotation
	// is durable, at the cost of one write rather than two. The store fills
	// FamilyID, UserID and ClientID from the family.
	Access *AccessTokenRecord
}

// RotateResult reports the outcome with the records involved.
type RotateResult struct {
	Outcome   RotateOutcome
	Family    Family
	Presented RefreshToken
	Child     RefreshToken
	// User is the family's user as the same atomic step read it, for an
	// attempt that hands out tokens (Rotated, GraceReplay); nil when the
	// user no longer exists. The caller needs no second lookup to mint the
	// tokens' claims.
	User *User
}

// RefreshTokens holds token families.
type RefreshTokens interface {
	CreateFamily(ctx context.Context, f Family, first RefreshToken) error
	GetRefreshToken(ctx context.Context, hash string) (RefreshToken, Family, error)
	GetFamily(ctx context.Context, id string) (Family, error)
	ListFamilies(ctx context.Context, userID string) ([]Family, error)
	// RotateRefreshToken performs one rotation attempt atomically; see
	// RotateOutcome for what it may decide. A non-nil error is an outage.
	RotateRefreshToken(ctx context.Context, p RotateParams) (RotateResult, error)
	// RevokeFamily marks the family revoked (idempotent; the first reason wins).
	RevokeFamily(ctx context.Context, familyID, reason string, now time.Time) error
}
