package memory

import (
	"context"
	"sort"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) PutUser(ctx context.Context, u store.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
	return nil
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	return lookup(s, s.users, id)
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Store) DeleteUser(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; !ok {
		return store.ErrNotFound
	}
	delete(s.users, id)
	return nil
}
