package store

import (
	"context"
	"time"
)

// Session is a browser sign-in at the issuer.
type Session struct {
	IDHash    string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Sessions holds browser sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns a live session; ErrNotFound or ErrExpired otherwise.
	GetSession(ctx context.Context, idHash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, idHash string) error
}
