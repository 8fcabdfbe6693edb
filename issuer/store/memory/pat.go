package memory

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreatePAT(ctx context.Context, p store.PersonalAccessToken) error {
	return insert(s, s.pats, p.Hash, p, store.ErrConflict)
}

func (s *Store) GetPAT(ctx context.Context, hash string) (store.PersonalAccessToken, error) {
	return lookup(s, s.pats, hash)
}

func (s *Store) RevokePAT(ctx context.Context, hash string, now time.Time) error {
	return revoke(s, s.pats, hash, now, func(p *store.PersonalAccessToken) *time.Time { return &p.RevokedAt })
}
