package memory

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[sess.IDHash] = sess
	return nil
}

func (s *Store) GetSession(ctx context.Context, idHash string, now time.Time) (store.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[idHash]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	if !now.Before(sess.ExpiresAt) {
		return sess, store.ErrExpired
	}
	return sess, nil
}

func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, idHash)
	return nil
}
