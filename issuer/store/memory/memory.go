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

// insert keeps v under k in m, unless k is taken (then: taken).
func insert[V any](s *Store, m map[string]V, k string, v V, taken error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := m[k]; ok {
		return taken
	}
	m[k] = v
	return nil
}

// lookup is the record under k in m, or store.ErrNotFound.
func lookup[V any](s *Store, m map[string]V, k string) (V, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := m[k]
	if !ok {
		return v, store.ErrNotFound
	}
	return v, nil
}

// revoke stamps the record under k in m revoked at now, unless it already
// is (its first revocation time stays); store.ErrNotFound if there is none.
func revoke[V any](s *Store, m map[string]V, k string, now time.Time, revokedAt func(*V) *time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := m[k]
	if !ok {
		return store.ErrNotFound
	}
	if at := revokedAt(&v); at.IsZero() {
		*at = now
		m[k] = v
	}
	return nil
}

// Ping always succeeds.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close does nothing.
func (s *Store) Close() error { return nil }
