package memory

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) RecordAccessToken(ctx context.Context, r store.AccessTokenRecord) error {
	return insert(s, s.access, r.JTI, r, store.ErrConflict)
}

func (s *Store) GetAccessToken(ctx context.Context, jti string) (store.AccessTokenRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.access[jti]
	if !ok {
		return store.AccessTokenRecord{}, store.ErrNotFound
	}
	if f, ok := s.families[r.FamilyID]; ok && f.Revoked() && r.RevokedAt.IsZero() {
		r.RevokedAt = f.RevokedAt
	}
	return r, nil
}

func (s *Store) RevokeAccessToken(ctx context.Context, jti string, now time.Time) error {
	return revoke(s, s.access, jti, now, func(r *store.AccessTokenRecord) *time.Time { return &r.RevokedAt })
}
