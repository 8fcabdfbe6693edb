package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

const keyCols = `kid, algorithm, private_pem, created_at, retired_at, drop_after`

func scanKey(row interface{ Scan(...any) error }) (store.SigningKey, error) {
	var k store.SigningKey
	var c, r, d int64
	if err := row.Scan(&k.KID, &k.Algorithm, &k.PrivatePEM, &c, &r, &d); err != nil {
		return k, notFound(err)
	}
	k.CreatedAt, k.RetiredAt, k.DropAfter = tm(c), tm(r), tm(d)
	return k, nil
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyCols+` FROM signing_keys ORDER BY created_at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Store) EnsureActiveSigningKey(ctx context.Context, candidate store.SigningKey) (store.SigningKey, error) {
	// The partial unique index admits one active key; ON CONFLICT DO NOTHING
	// makes the losers of a start-up race fall through to reading the winner.
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO signing_keys (kid, algorithm, private_pem, created_at, retired_at, drop_after) VALUES (?, ?, ?, ?, 0, 0) ON CONFLICT DO NOTHING`),
		candidate.KID, candidate.Algorithm, candidate.PrivatePEM, ns(candidate.CreatedAt)); err != nil {
		return store.SigningKey{}, err
	}
	return scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyCols+` FROM signing_keys WHERE retired_at = 0`))
}

func (s *Store) RotateSigningKey(ctx context.Context, next store.SigningKey, now, dropAfter time.Time) error {
	return unwrapSentinel(s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM signing_keys WHERE kid = ?`), next.KID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return sentinelErr{store.ErrConflict}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE signing_keys SET retired_at = ?, drop_after = ? WHERE retired_at = 0`), ns(now), ns(dropAfter)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO signing_keys (kid, algorithm, private_pem, created_at, retired_at, drop_after) VALUES (?, ?, ?, ?, 0, 0)`),
			next.KID, next.Algorithm, next.PrivatePEM, ns(next.CreatedAt))
		return err
	}))
}

// ---- secrets

func (s *Store) GetOrCreateSecret(ctx context.Context, name string, candidate []byte) ([]byte, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), name, candidate); err != nil {
		return nil, err
	}
	var v []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM secrets WHERE name = ?`), name).Scan(&v)
	return v, err
}
