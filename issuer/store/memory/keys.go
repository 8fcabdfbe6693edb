package memory

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.SigningKey(nil), s.keys...), nil
}

func (s *Store) EnsureActiveSigningKey(ctx context.Context, candidate store.SigningKey) (store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.Active() {
			return k, nil
		}
	}
	s.keys = append(s.keys, candidate)
	return candidate, nil
}

func (s *Store) RotateSigningKey(ctx context.Context, next store.SigningKey, now, dropAfter time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.KID == next.KID {
			return store.ErrConflict
		}
	}
	for i := range s.keys {
		if s.keys[i].Active() {
			s.keys[i].RetiredAt, s.keys[i].DropAfter = now, dropAfter
		}
	}
	s.keys = append(s.keys, next)
	return nil
}

func (s *Store) GetOrCreateSecret(ctx context.Context, name string, candidate []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.secrets[name]; ok {
		return append([]byte(nil), v...), nil
	}
	s.secrets[name] = append([]byte(nil), candidate...)
	return append([]byte(nil), candidate...), nil
}
