package memory

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.codes {
		if now.After(c.ExpiresAt.Add(store.RetainUsed)) {
			delete(s.codes, k)
			n++
		}
	}
	for k, d := range s.devices {
		if now.After(d.ExpiresAt.Add(store.RetainUsed)) {
			delete(s.devices, k)
			n++
		}
	}
	for k, sess := range s.sessions {
		if !now.Before(sess.ExpiresAt) {
			delete(s.sessions, k)
			n++
		}
	}
	for k, exp := range s.nonces {
		if !now.Before(exp) {
			delete(s.nonces, k)
			n++
		}
	}
	for k, r := range s.access {
		if now.After(r.ExpiresAt) {
			delete(s.access, k)
			n++
		}
	}
	// A refresh token that expired long ago can no longer be presented to any
	// effect worth recording; drop it (and empty families with it).
	live := map[string]bool{}
	for k, t := range s.refresh {
		if now.After(t.ExpiresAt.Add(store.RetainUsed)) {
			delete(s.refresh, k)
			n++
			continue
		}
		live[t.FamilyID] = true
	}
	for id := range s.families {
		if !live[id] {
			delete(s.families, id)
			n++
		}
	}
	return n, nil
}
