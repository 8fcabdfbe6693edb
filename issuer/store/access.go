package store

import (
	"context"
	"time"
)

// AccessTokenRecord remembers an issued access token so it can be revoked
// and validated (the JWT itself is self-contained; revocation is not).
type AccessTokenRecord struct {
	JTI       string
	FamilyID  string
	UserID    string
	ClientID  string
	IssuedAt  time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// ForFamily returns r bound to family f: its id, user and client.
func (r AccessTokenRecord) ForFamily(f Family) AccessTokenRecord {
	r.FamilyID, r.UserID, r.ClientID = f.ID, f.UserID, f.ClientID
	return r
}

// AccessTokens holds access-token records.
type AccessTokens interface {
	RecordAccessToken(ctx context.Context, r AccessTokenRecord) error
	// GetAccessToken returns the record; RevokedAt is set when the token or
	// its family was revoked.
	GetAccessToken(ctx context.Context, jti string) (AccessTokenRecord, error)
	RevokeAccessToken(ctx context.Context, jti string, now time.Time) error
}
