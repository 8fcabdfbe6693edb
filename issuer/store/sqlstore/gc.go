package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	cut := ns(now.Add(-store.RetainUsed))
	stmts := []struct {
		q    string
		args []any
	}{
		{`DELETE FROM auth_codes WHERE expires_at < ?`, []any{cut}},
		{`DELETE FROM device_codes WHERE expires_at < ?`, []any{cut}},
		{`DELETE FROM sessions WHERE expires_at <= ?`, []any{ns(now)}},
		{`DELETE FROM used_nonces WHERE expires_at <= ?`, []any{ns(now)}},
		{`DELETE FROM access_tokens WHERE expires_at < ?`, []any{ns(now)}},
		{`DELETE FROM refresh_tokens WHERE expires_at < ?`, []any{cut}},
		{`DELETE FROM families WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = families.id)`, nil},
	}
	total := 0
	for _, st := range stmts {
		res, err := s.db.ExecContext(ctx, s.q(st.q), st.args...)
		if err != nil {
			return total, fmt.Errorf("gc: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}
