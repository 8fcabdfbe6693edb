package sqlstore

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`),
		sess.IDHash, sess.UserID, ns(sess.CreatedAt), ns(sess.ExpiresAt))
	return err
}

func (s *Store) GetSession(ctx context.Context, idHash string, now time.Time) (store.Session, error) {
	var sess store.Session
	var c, e int64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT id_hash, user_id, created_at, expires_at FROM sessions WHERE id_hash = ?`), idHash).Scan(&sess.IDHash, &sess.UserID, &c, &e); err != nil {
		return sess, notFound(err)
	}
	sess.CreatedAt, sess.ExpiresAt = tm(c), tm(e)
	if !now.Before(sess.ExpiresAt) {
		return sess, store.ErrExpired
	}
	return sess, nil
}

func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE id_hash = ?`), idHash)
	return err
}
