package sqlstore

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreatePAT(ctx context.Context, p store.PersonalAccessToken) error {
	return s.execChanging(ctx, store.ErrConflict, `INSERT INTO personal_access_tokens (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
		p.Hash, p.UserID, ns(p.CreatedAt), ns(p.ExpiresAt))
}

func (s *Store) GetPAT(ctx context.Context, hash string) (store.PersonalAccessToken, error) {
	var p store.PersonalAccessToken
	var c, e, r int64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT hash, user_id, created_at, expires_at, revoked_at FROM personal_access_tokens WHERE hash = ?`), hash).
		Scan(&p.Hash, &p.UserID, &c, &e, &r); err != nil {
		return p, notFound(err)
	}
	p.CreatedAt, p.ExpiresAt, p.RevokedAt = tm(c), tm(e), tm(r)
	return p, nil
}

func (s *Store) RevokePAT(ctx context.Context, hash string, now time.Time) error {
	return s.execChanging(ctx, store.ErrNotFound, `UPDATE personal_access_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE hash = ?`, ns(now), hash)
}
