package memory

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreatePAT(ctx context.Context, p store.PersonalAccessToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pats[p.Hash]; ok {
		return store.ErrConflict
	}
	s.pats[p.Hash] = p
	return nil
}

func (s *Store) GetPAT(ctx context.Context, hash string) (store.PersonalAccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pats[hash]
	if !ok {
		return p, store.ErrNotFound
	}
	return p, nil
}

func (s *Store) RevokePAT(ctx context.Context, hash string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pats[hash]
	if !ok {
		return store.ErrNotFound
	}
	if p.RevokedAt.IsZero() {
		p.RevokedAt = now
		s.pats[hash] = p
	}
	return nil
}
