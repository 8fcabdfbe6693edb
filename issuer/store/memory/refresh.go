package memory

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreateFamily(ctx context.Context, f store.Family, first store.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.families[f.ID]; ok {
		return store.ErrConflict
	}
	if _, ok := s.refresh[first.Hash]; ok {
		return store.ErrConflict
	}
	first.FamilyID = f.ID
	s.families[f.ID] = f
	s.refresh[first.Hash] = first
	return nil
}

func (s *Store) GetRefreshToken(ctx context.Context, hash string) (store.RefreshToken, store.Family, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[hash]
	if !ok {
		return store.RefreshToken{}, store.Family{}, store.ErrNotFound
	}
	return t, s.families[t.FamilyID], nil
}

func (s *Store) GetFamily(ctx context.Context, id string) (store.Family, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.families[id]
	if !ok {
		return store.Family{}, store.ErrNotFound
	}
	return f, nil
}

func (s *Store) ListFamilies(ctx context.Context, userID string) ([]store.Family, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Family
	for _, f := range s.families {
		if userID == "" || f.UserID == userID {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (s *Store) RotateRefreshToken(ctx context.Context, p store.RotateParams) (store.RotateResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[p.PresentedHash]
	if !ok {
		return store.RotateResult{Outcome: store.Unknown}, nil
	}
	f := s.families[t.FamilyID]
	res := store.RotateResult{Family: f, Presented: t}
	decision := store.DecideRotation(t, f, p, func(h string) (store.RefreshToken, bool) {
		c, ok := s.refresh[h]
		return c, ok
	})
	switch decision.Outcome {
	case store.Reused:
		if !f.Revoked() {
			f.RevokedAt, f.RevokeReason = p.Now, "refresh_token_reused"
			s.families[f.ID] = f
			res.Family = f
		}
	case store.GraceReplay:
		res.Child = decision.Child
	case store.Rotated:
		if _, taken := s.refresh[p.ChildHash]; taken {
			return store.RotateResult{}, fmt.Errorf("rotate: successor hash already stored: %w", store.ErrConflict)
		}
	}
	if decision.Outcome.HandsOutTokens() && p.Access != nil {
		if _, taken := s.access[p.Access.JTI]; taken {
			return store.RotateResult{}, fmt.Errorf("rotate: access token id already recorded: %w", store.ErrConflict)
		}
		s.access[p.Access.JTI] = p.Access.ForFamily(f)
	}
	if decision.Outcome == store.Rotated {
		t.RotatedAt, t.ChildHash = p.Now, p.ChildHash
		s.refresh[t.Hash] = t
		child := store.RefreshToken{Hash: p.ChildHash, FamilyID: f.ID, ParentHash: t.Hash, CreatedAt: p.Now, ExpiresAt: p.ChildExpiresAt}
		s.refresh[child.Hash] = child
		res.Presented, res.Child = t, child
	}
	if decision.Outcome.HandsOutTokens() {
		if u, ok := s.users[f.UserID]; ok {
			res.User = &u
		}
	}
	res.Outcome = decision.Outcome
	return res, nil
}

func (s *Store) RevokeFamily(ctx context.Context, familyID, reason string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.families[familyID]
	if !ok {
		return store.ErrNotFound
	}
	if !f.Revoked() {
		f.RevokedAt, f.RevokeReason = now, reason
		s.families[familyID] = f
	}
	return nil
}
