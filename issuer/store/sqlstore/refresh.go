package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreateFamily(ctx context.Context, f store.Family, first store.RefreshToken) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO families (id, user_id, client_id, scope, created_at) VALUES (?, ?, ?, ?, ?)`),
			f.ID, f.UserID, f.ClientID, f.Scope, ns(f.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens (hash, family_id, parent_hash, created_at, expires_at) VALUES (?, ?, '', ?, ?)`),
			first.Hash, f.ID, ns(first.CreatedAt), ns(first.ExpiresAt))
		return err
	})
}

const refreshCols = `hash, family_id, parent_hash, child_hash, created_at, expires_at, rotated_at`
const familyCols = `id, user_id, client_id, scope, created_at, revoked_at, revoke_reason`

func scanRefresh(row interface{ Scan(...any) error }) (store.RefreshToken, error) {
	var t store.RefreshToken
	var c, e, r int64
	if err := row.Scan(&t.Hash, &t.FamilyID, &t.ParentHash, &t.ChildHash, &c, &e, &r); err != nil {
		return t, notFound(err)
	}
	t.CreatedAt, t.ExpiresAt, t.RotatedAt = tm(c), tm(e), tm(r)
	return t, nil
}

func scanFamily(row interface{ Scan(...any) error }) (store.Family, error) {
	var f store.Family
	var c, r int64
	if err := row.Scan(&f.ID, &f.UserID, &f.ClientID, &f.Scope, &c, &r, &f.RevokeReason); err != nil {
		return f, notFound(err)
	}
	f.CreatedAt, f.RevokedAt = tm(c), tm(r)
	return f, nil
}

func (s *Store) GetRefreshToken(ctx context.Context, hash string) (store.RefreshToken, store.Family, error) {
	t, err := scanRefresh(s.db.QueryRowContext(ctx, s.q(`SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = ?`), hash))
	if err != nil {
		return t, store.Family{}, err
	}
	f, err := s.GetFamily(ctx, t.FamilyID)
	return t, f, err
}

func (s *Store) GetFamily(ctx context.Context, id string) (store.Family, error) {
	return scanFamily(s.db.QueryRowContext(ctx, s.q(`SELECT `+familyCols+` FROM families WHERE id = ?`), id))
}

func (s *Store) ListFamilies(ctx context.Context, userID string) ([]store.Family, error) {
	query, args := `SELECT `+familyCols+` FROM families ORDER BY created_at`, []any{}
	if userID != "" {
		query, args = `SELECT `+familyCols+` FROM families WHERE user_id = ? ORDER BY created_at`, []any{userID}
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Family
	for rows.Next() {
		f, err := scanFamily(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (s *Store) RevokeFamily(ctx context.Context, familyID, reason string, now time.Time) error {
	return s.execChanging(ctx, store.ErrNotFound, `UPDATE families SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END,
		revoke_reason = CASE WHEN revoked_at = 0 THEN ? ELSE revoke_reason END WHERE id = ?`, ns(now), reason, familyID)
}
