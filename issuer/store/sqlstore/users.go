package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) PutUser(ctx context.Context, u store.User) error {
	b, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encode user: %w", err)
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO users (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data`), u.ID, string(b))
	return err
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	var data string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT data FROM users WHERE id = ?`), id).Scan(&data); err != nil {
		return store.User{}, notFound(err)
	}
	var u store.User
	if err := json.Unmarshal([]byte(data), &u); err != nil {
		return store.User{}, fmt.Errorf("decode user %q: %w", id, err)
	}
	return u, nil
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var u store.User
		if err := json.Unmarshal([]byte(data), &u); err != nil {
			return nil, fmt.Errorf("decode user: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.execChanging(ctx, store.ErrNotFound, `DELETE FROM users WHERE id = ?`, id)
}
