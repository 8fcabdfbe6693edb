// Package memory is the in-process Store backend: one mutex around maps,
// one file per aggregate (as in package store).
// It is what unit tests and `serve --store memory` use.
package memory

import (
	"context"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// Store is an in-memory store.Store.
type Store struct {
	mu       sync.Mutex
	users    map[string]store.User
	codes    map[string]store.AuthCode
	devices  map[string]store.DeviceCode
	families map[string]store.Family
	refresh  map[string]store.RefreshToken
	access   map[string]store.AccessTokenRecord
	sessions map[string]store.Session
	keys     []store.SigningKey
	secrets  map[string][]byte
	agents   map[string]store.AgentIdentity
	tasks    map[string]store.AgentTask
	nonces   map[string]time.Time
	pats     map[string]store.PersonalAccessToken
}

// New returns an empty store.
func New() *Store {
	return &Store{
		users: map[string]store.User{}, codes: map[string]store.AuthCode{},
		devices: map[string]store.DeviceCode{}, families: map[string]store.Family{},
		refresh: map[string]store.RefreshToken{}, access: map[string]store.AccessTokenRecord{},
		sessions: map[string]store.Session{}, secrets: map[string][]byte{},
		agents: map[string]store.AgentIdentity{}, tasks: map[string]store.AgentTask{},
		nonces: map[string]time.Time{}, pats: map[string]store.PersonalAccessToken{},
	}
}

var _ store.Store = (*Store)(nil)

// Ping always succeeds.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close does nothing.
func (s *Store) Close() error { return nil }
