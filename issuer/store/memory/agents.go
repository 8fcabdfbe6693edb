package memory

import (
	"context"
	"sort"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreateAgentIdentity(ctx context.Context, a store.AgentIdentity) error {
	return insert(s, s.agents, a.RuntimeID, a, store.ErrConflict)
}

func (s *Store) GetAgentIdentity(ctx context.Context, runtimeID string) (store.AgentIdentity, error) {
	return lookup(s, s.agents, runtimeID)
}

func (s *Store) ListAgentIdentities(ctx context.Context) ([]store.AgentIdentity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.AgentIdentity, 0, len(s.agents))
	for _, a := range s.agents {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (s *Store) RevokeAgentIdentity(ctx context.Context, runtimeID string, now time.Time) error {
	return revoke(s, s.agents, runtimeID, now, func(a *store.AgentIdentity) *time.Time { return &a.RevokedAt })
}

func (s *Store) CreateAgentTask(ctx context.Context, t store.AgentTask) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tasks[t.TaskID]; ok {
		return store.ErrConflict
	}
	for _, o := range s.tasks {
		if o.RuntimeID == t.RuntimeID && o.Nonce == t.Nonce {
			return store.ErrConflict
		}
	}
	s.tasks[t.TaskID] = t
	return nil
}

func (s *Store) GetAgentTask(ctx context.Context, taskID string) (store.AgentTask, error) {
	return lookup(s, s.tasks, taskID)
}

func (s *Store) ListAgentTasks(ctx context.Context, runtimeID string) ([]store.AgentTask, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.AgentTask
	for _, t := range s.tasks {
		if t.RuntimeID == runtimeID {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (s *Store) UseNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	return insert(s, s.nonces, nonce, expiresAt, store.ErrAlreadyUsed)
}
