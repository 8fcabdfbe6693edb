package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) RecordAccessToken(ctx context.Context, r store.AccessTokenRecord) error {
	return s.execChanging(ctx, store.ErrConflict, `INSERT INTO access_tokens (jti, family_id, user_id, client_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING`,
		r.JTI, r.FamilyID, r.UserID, r.ClientID, ns(r.IssuedAt), ns(r.ExpiresAt))
}

// selectAccess is what every bearer validation runs (prepared at Open).
const selectAccess = `SELECT a.jti, a.family_id, a.user_id, a.client_id, a.issued_at, a.expires_at, a.revoked_at, f.revoked_at
	FROM access_tokens a LEFT JOIN families f ON f.id = a.family_id WHERE a.jti = ?`

func (s *Store) GetAccessToken(ctx context.Context, jti string) (store.AccessTokenRecord, error) {
	var r store.AccessTokenRecord
	var iss, exp, rev int64
	var famRev sql.NullInt64
	err := s.queryRow(ctx, selectAccess, jti).
		Scan(&r.JTI, &r.FamilyID, &r.UserID, &r.ClientID, &iss, &exp, &rev, &famRev)
	if err != nil {
		return r, notFound(err)
	}
	if rev == 0 && famRev.Valid && famRev.Int64 != 0 {
		rev = famRev.Int64
	}
	r.IssuedAt, r.ExpiresAt, r.RevokedAt = tm(iss), tm(exp), tm(rev)
	return r, nil
}

func (s *Store) RevokeAccessToken(ctx context.Context, jti string, now time.Time) error {
	return s.execChanging(ctx, store.ErrNotFound, `UPDATE access_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE jti = ?`, ns(now), jti)
}
