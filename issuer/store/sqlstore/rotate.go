package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/codexauth/codexauth/issuer/store"
)

// RotateRefreshToken performs one rotation attempt atomically. On a dialect
// with GroupCommit the attempt joins the rotations in flight and commits
// with them (see rotationBatcher); it is answered only after that commit.
func (s *Store) RotateRefreshToken(ctx context.Context, p store.RotateParams) (store.RotateResult, error) {
	if s.batcher != nil {
		return s.batcher.rotate(ctx, p)
	}
	var res store.RotateResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = s.rotateIn(ctx, tx, p)
		return err
	})
	return res, err
}

// Statements of a rotation, prepared at Open.
const (
	selectChild  = `SELECT ` + refreshCols + ` FROM refresh_tokens WHERE hash = ?`
	revokeReused = `UPDATE families SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at = 0`
	rotateOut    = `UPDATE refresh_tokens SET rotated_at = ?, child_hash = ? WHERE hash = ?`
	insertChild  = `INSERT INTO refresh_tokens (hash, family_id, parent_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`
	insertAccess = `INSERT INTO access_tokens (jti, family_id, user_id, client_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING`
)

// rotationQueries are the statements rotateIn runs, for prepareHot.
func (s *Store) rotationQueries() []string {
	return []string{s.rotateSelect(), selectChild, revokeReused, rotateOut, insertChild, insertAccess}
}

// rotateSelect reads the presented token, its family and the family's user
// in one statement, locking the token and family rows where the dialect
// locks rows (replicas presenting the same token serialise on it).
func (s *Store) rotateSelect() string {
	if s.d.ForUpdate == "" {
		return rotateSelectRows
	}
	return rotateSelectRows + s.d.ForUpdate + " OF r, f"
}

const rotateSelectRows = `SELECT r.hash, r.family_id, r.parent_hash, r.child_hash, r.created_at, r.expires_at, r.rotated_at,
	f.id, f.user_id, f.client_id, f.scope, f.created_at, f.revoked_at, f.revoke_reason, u.data
	FROM refresh_tokens r JOIN families f ON f.id = r.family_id LEFT JOIN users u ON u.id = f.user_id
	WHERE r.hash = ?`

// rotateIn is one rotation attempt inside tx: read, decide
// (store.DecideRotation, shared by every backend), apply, and record the
// access token when the attempt hands out tokens.
func (s *Store) rotateIn(ctx context.Context, tx *sql.Tx, p store.RotateParams) (store.RotateResult, error) {
	var (
		res                store.RotateResult
		t                  store.RefreshToken
		f                  store.Family
		tc, te, tr, fc, fr int64
		userData           sql.NullString
	)
	sel, err := s.stmt(ctx, tx, s.rotateSelect())
	if err != nil {
		return res, err
	}
	err = sel.QueryRowContext(ctx, p.PresentedHash).Scan(
		&t.Hash, &t.FamilyID, &t.ParentHash, &t.ChildHash, &tc, &te, &tr,
		&f.ID, &f.UserID, &f.ClientID, &f.Scope, &fc, &fr, &f.RevokeReason, &userData)
	if errors.Is(err, sql.ErrNoRows) {
		return store.RotateResult{Outcome: store.Unknown}, nil
	}
	if err != nil {
		return res, fmt.Errorf("read refresh token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.RotatedAt = tm(tc), tm(te), tm(tr)
	f.CreatedAt, f.RevokedAt = tm(fc), tm(fr)
	res.Family, res.Presented = f, t
	dec := store.DecideRotation(t, f, p, func(h string) (store.RefreshToken, bool) {
		st, err := s.stmt(ctx, tx, selectChild)
		if err != nil {
			return store.RefreshToken{}, false
		}
		c, err := scanRefresh(st.QueryRowContext(ctx, h))
		return c, err == nil
	})
	res.Outcome = dec.Outcome
	switch dec.Outcome {
	case store.Reused:
		if !f.Revoked() {
			if _, err := s.exec(ctx, tx, revokeReused, ns(p.Now), "refresh_token_reused", f.ID); err != nil {
				return res, fmt.Errorf("revoke family: %w", err)
			}
			res.Family.RevokedAt, res.Family.RevokeReason = p.Now, "refresh_token_reused"
		}
	case store.GraceReplay:
		res.Child = dec.Child
	case store.Rotated:
		if _, err := s.exec(ctx, tx, rotateOut, ns(p.Now), p.ChildHash, t.Hash); err != nil {
			return res, fmt.Errorf("rotate out: %w", err)
		}
		child := store.RefreshToken{Hash: p.ChildHash, FamilyID: f.ID, ParentHash: t.Hash, CreatedAt: p.Now, ExpiresAt: p.ChildExpiresAt}
		if _, err := s.exec(ctx, tx, insertChild,
			child.Hash, child.FamilyID, child.ParentHash, ns(child.CreatedAt), ns(child.ExpiresAt)); err != nil {
			return res, fmt.Errorf("store successor: %w", err)
		}
		res.Presented.RotatedAt, res.Presented.ChildHash = p.Now, p.ChildHash
		res.Child = child
	}
	if !dec.Outcome.HandsOutTokens() {
		return res, nil
	}
	if p.Access != nil {
		a := p.Access.ForFamily(f)
		r, err := s.exec(ctx, tx, insertAccess,
			a.JTI, a.FamilyID, a.UserID, a.ClientID, ns(a.IssuedAt), ns(a.ExpiresAt))
		if err != nil {
			return res, fmt.Errorf("record access token: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return res, fmt.Errorf("record access token: id already recorded: %w", store.ErrConflict)
		}
	}
	if userData.Valid {
		var u store.User
		if err := json.Unmarshal([]byte(userData.String), &u); err != nil {
			return res, fmt.Errorf("decode user %q: %w", f.UserID, err)
		}
		res.User = &u
	}
	return res, nil
}

// exec runs a prepared statement of the hot path in tx.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}
