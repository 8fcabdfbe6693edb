package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	return s.execChanging(ctx, store.ErrConflict, `INSERT INTO auth_codes (hash, client_id, redirect_uri, code_challenge, scope, user_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
		c.Hash, c.ClientID, c.RedirectURI, c.CodeChallenge, c.Scope, c.UserID, ns(c.CreatedAt), ns(c.ExpiresAt))
}

func (s *Store) ConsumeAuthCode(ctx context.Context, hash string, now time.Time, familyID string) (store.AuthCode, error) {
	var c store.AuthCode
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var created, expires, used int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT client_id, redirect_uri, code_challenge, scope, user_id, created_at, expires_at, used_at, family_id
			FROM auth_codes WHERE hash = ?`+s.d.ForUpdate), hash).
			Scan(&c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.Scope, &c.UserID, &created, &expires, &used, &c.FamilyID)
		if err != nil {
			return notFound(err)
		}
		c.Hash, c.CreatedAt, c.ExpiresAt, c.UsedAt = hash, tm(created), tm(expires), tm(used)
		if used != 0 {
			return sentinelErr{store.ErrAlreadyUsed}
		}
		c.UsedAt = now
		var result error
		if !now.Before(c.ExpiresAt) {
			result = sentinelErr{store.ErrExpired}
		} else {
			c.FamilyID = familyID
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE auth_codes SET used_at = ?, family_id = ? WHERE hash = ?`), ns(now), c.FamilyID, hash); err != nil {
			return err
		}
		if result != nil {
			// Commit the "used" mark, then report.
			return commitThen(result)
		}
		return nil
	})
	return c, unwrapSentinel(err)
}
