package sqlstore

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreateAgentIdentity(ctx context.Context, a store.AgentIdentity) error {
	return s.execChanging(ctx, store.ErrConflict, `INSERT INTO agent_identities (runtime_id, user_id, account_id, public_key, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (runtime_id) DO NOTHING`,
		a.RuntimeID, a.UserID, a.AccountID, a.PublicKey, ns(a.CreatedAt), ns(a.ExpiresAt))
}

const agentCols = `runtime_id, user_id, account_id, public_key, created_at, expires_at, revoked_at`

func scanAgent(row interface{ Scan(...any) error }) (store.AgentIdentity, error) {
	var a store.AgentIdentity
	var c, e, r int64
	if err := row.Scan(&a.RuntimeID, &a.UserID, &a.AccountID, &a.PublicKey, &c, &e, &r); err != nil {
		return a, notFound(err)
	}
	a.CreatedAt, a.ExpiresAt, a.RevokedAt = tm(c), tm(e), tm(r)
	return a, nil
}

func (s *Store) GetAgentIdentity(ctx context.Context, runtimeID string) (store.AgentIdentity, error) {
	return scanAgent(s.db.QueryRowContext(ctx, s.q(`SELECT `+agentCols+` FROM agent_identities WHERE runtime_id = ?`), runtimeID))
}

func (s *Store) ListAgentIdentities(ctx context.Context) ([]store.AgentIdentity, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+agentCols+` FROM agent_identities ORDER BY created_at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AgentIdentity
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *Store) RevokeAgentIdentity(ctx context.Context, runtimeID string, now time.Time) error {
	return s.execChanging(ctx, store.ErrNotFound, `UPDATE agent_identities SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE runtime_id = ?`, ns(now), runtimeID)
}

func (s *Store) CreateAgentTask(ctx context.Context, t store.AgentTask) error {
	return s.execChanging(ctx, store.ErrConflict, `INSERT INTO agent_tasks (task_id, runtime_id, nonce, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		t.TaskID, t.RuntimeID, t.Nonce, ns(t.CreatedAt))
}

func (s *Store) GetAgentTask(ctx context.Context, taskID string) (store.AgentTask, error) {
	var t store.AgentTask
	var c int64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT task_id, runtime_id, nonce, created_at FROM agent_tasks WHERE task_id = ?`), taskID).Scan(&t.TaskID, &t.RuntimeID, &t.Nonce, &c); err != nil {
		return t, notFound(err)
	}
	t.CreatedAt = tm(c)
	return t, nil
}

func (s *Store) ListAgentTasks(ctx context.Context, runtimeID string) ([]store.AgentTask, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT task_id, runtime_id, nonce, created_at FROM agent_tasks WHERE runtime_id = ? ORDER BY created_at`), runtimeID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AgentTask
	for rows.Next() {
		var t store.AgentTask
		var c int64
		if err := rows.Scan(&t.TaskID, &t.RuntimeID, &t.Nonce, &c); err != nil {
			return nil, err
		}
		t.CreatedAt = tm(c)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *Store) UseNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	return s.execChanging(ctx, store.ErrAlreadyUsed, `INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING`, nonce, ns(expiresAt))
}
