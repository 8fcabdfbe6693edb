package loadgen

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/store/sqlstore"
)

// Seed fills a fresh SQL store (a --store spec: sqlite:PATH or a postgres://
// URL) with n live token families, one unrotated refresh token each, for
// userID and clientID — the state a busy deployment carries. The rows are
// generated inside the database (a recursive CTE on SQLite,
// generate_series on PostgreSQL), so a million take seconds, not an hour
// of API calls. Refresh-token hashes are random, as real ones are, so the
// index the benchmark then inserts into has its real shape.
//
// This writes the schema's tables directly (migrations/0001_init): it is a
// benchmark tool, and must follow the schema when that changes.
func Seed(ctx context.Context, spec string, n int, userID, clientID string) error {
	now := time.Now()
	created, expires := now.UnixNano(), now.Add(30*24*time.Hour).UnixNano()
	const scope = "openid profile email offline_access"
	switch {
	case strings.HasPrefix(spec, "sqlite:"):
		s, err := sqlstore.OpenSQLite(ctx, strings.TrimPrefix(spec, "sqlite:"))
		if err != nil {
			return err
		}
		defer s.Close()
		stmts := []struct {
			q    string
			args []any
		}{
			{`WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ?)
			  INSERT INTO families (id, user_id, client_id, scope, created_at) SELECT 'seed-' || x, ?, ?, ?, ? FROM seq`,
				[]any{n, userID, clientID, scope, created}},
			{`INSERT INTO refresh_tokens (hash, family_id, parent_hash, created_at, expires_at)
			  SELECT lower(hex(randomblob(24))), id, '', ?, ? FROM families WHERE id LIKE 'seed-%'`, []any{created, expires}},
		}
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, st := range stmts {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("seed sqlite: %w", err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("seed sqlite: %w", err)
		}
		_, err = s.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		return err
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		s, err := sqlstore.OpenPostgres(ctx, spec)
		if err != nil {
			return err
		}
		defer s.Close()
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`INSERT INTO families (id, user_id, client_id, scope, created_at)
			  SELECT 'seed-' || g, $2, $3, $4, $5 FROM generate_series(1, $1::int) g`, []any{n, userID, clientID, scope, created}},
			{`INSERT INTO refresh_tokens (hash, family_id, parent_hash, created_at, expires_at)
			  SELECT md5(random()::text || id) || substr(md5(id), 1, 16), id, '', $1, $2 FROM families WHERE id LIKE 'seed-%'`,
				[]any{created, expires}},
			{`ANALYZE`, nil},
		} {
			if _, err := s.DB().ExecContext(ctx, st.q, st.args...); err != nil {
				return fmt.Errorf("seed postgres: %w", err)
			}
		}
		return nil
	}
	return fmt.Errorf("seed: %q is not sqlite:PATH or a postgres:// URL", spec)
}
