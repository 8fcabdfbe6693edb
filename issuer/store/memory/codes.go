package memory

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	return insert(s, s.codes, c.Hash, c, store.ErrConflict)
}

func (s *Store) ConsumeAuthCode(ctx context.Context, hash string, now time.Time, familyID string) (store.AuthCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[hash]
	if !ok {
		return store.AuthCode{}, store.ErrNotFound
	}
	if !c.UsedAt.IsZero() {
		return c, store.ErrAlreadyUsed
	}
	c.UsedAt = now
	if !now.Before(c.ExpiresAt) {
		s.codes[hash] = c
		return c, store.ErrExpired
	}
	c.FamilyID = familyID
	s.codes[hash] = c
	return c, nil
}
