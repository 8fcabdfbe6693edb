// Package memory is the in-process Store backend: one mutex around maps.
// It is what unit tests and `serve --store memory` use.
package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// Store is an in-memory store.Store.
type Store struct {
	mu       sync.Mutex
	users    map[string]store.User
	codes    map[string]store.AuthCode
	devices  map[string]store.DeviceCode
	families map[string]store.Family
	refresh  map[string]store.RefreshToken
	access   map[string]store.AccessTokenRecord
	sessions map[string]store.Session
	keys     []store.SigningKey
	secrets  map[string][]byte
	agents   map[string]store.AgentIdentity
	tasks    map[string]store.AgentTask
	nonces   map[string]time.Time
	pats     map[string]store.PersonalAccessToken
}

// New returns an empty store.
func New() *Store {
	return &Store{
		users: map[string]store.User{}, codes: map[string]store.AuthCode{},
		devices: map[string]store.DeviceCode{}, families: map[string]store.Family{},
		refresh: map[string]store.RefreshToken{}, access: map[string]store.AccessTokenRecord{},
		sessions: map[string]store.Session{}, secrets: map[string][]byte{},
		agents: map[string]store.AgentIdentity{}, tasks: map[string]store.AgentTask{},
		nonces: map[string]time.Time{}, pats: map[string]store.PersonalAccessToken{},
	}
}

var _ store.Store = (*Store)(nil)

// Ping always succeeds.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close does nothing.
func (s *Store) Close() error { return nil }

func (s *Store) PutUser(ctx context.Context, u store.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
	return nil
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
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

func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.codes[c.Hash]; ok {
		return store.ErrConflict
	}
	s.codes[c.Hash] = c
	return nil
}

func (s *Store) ConsumeAuthCode(ctx context.Context, hash string, now time.Time, familyID string) (store.AuthCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[hash]
	if !ok {
		return store.AuthCode{}, store.ErrNotFound
	}
	if !c.UsedAt.IsZero() {
		return c, store.ErrAlreadyUsed
	}
	c.UsedAt = now
	if !now.Before(c.ExpiresAt) {
		s.codes[hash] = c
		return c, store.ErrExpired
	}
	c.FamilyID = familyID
	s.codes[hash] = c
	return c, nil
}

func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.devices[d.IDHash]; ok {
		return store.ErrConflict
	}
	for _, o := range s.devices {
		if o.UserCodeHash == d.UserCodeHash && o.ExpiresAt.After(d.CreatedAt) {
			return store.ErrConflict
		}
	}
	s.devices[d.IDHash] = d
	return nil
}

func (s *Store) GetDeviceCode(ctx context.Context, idHash string) (store.DeviceCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[idHash]
	if !ok {
		return store.DeviceCode{}, store.ErrNotFound
	}
	return d, nil
}

func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string) (store.DeviceCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deviceByUserCode(userCodeHash)
	if !ok {
		return store.DeviceCode{}, store.ErrNotFound
	}
	return d, nil
}

// deviceByUserCode picks the newest code with that user code (older ones
// may linger expired until collected).
func (s *Store) deviceByUserCode(h string) (store.DeviceCode, bool) {
	var best store.DeviceCode
	found := false
	for _, d := range s.devices {
		if d.UserCodeHash == h && (!found || d.CreatedAt.After(best.CreatedAt)) {
			best, found = d, true
		}
	}
	return best, found
}

func (s *Store) DecideDeviceCode(ctx context.Context, userCodeHash string, approve bool, userID string, now time.Time) (store.DeviceCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deviceByUserCode(userCodeHash)
	if !ok {
		return store.DeviceCode{}, store.ErrNotFound
	}
	if !now.Before(d.ExpiresAt) {
		return d, store.ErrExpired
	}
	if d.Status != store.DevicePending {
		return d, store.ErrConflict
	}
	if approve {
		d.Status, d.UserID = store.DeviceApproved, userID
	} else {
		d.Status = store.DeviceDenied
	}
	d.DecidedAt = now
	s.devices[d.IDHash] = d
	return d, nil
}

func (s *Store) ClaimDeviceCode(ctx context.Context, idHash string, now time.Time) (store.DeviceCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[idHash]
	if !ok {
		return store.DeviceCode{}, store.ErrNotFound
	}
	switch d.Status {
	case store.DeviceExchanged:
		return d, store.ErrAlreadyUsed
	case store.DeviceDenied:
		return d, store.ErrDenied
	}
	if !now.Before(d.ExpiresAt) {
		return d, store.ErrExpired
	}
	if d.Status == store.DevicePending {
		return d, store.ErrPending
	}
	d.Status = store.DeviceExchanged
	s.devices[idHash] = d
	return d, nil
}

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
		if !f.Revoked() && !p.NoFamilyRevoke {
			f.RevokedAt, f.RevokeReason = p.Now, "refresh_token_reused"
			s.families[f.ID] = f
			res.Family = f
		}
	case store.GraceReplay:
		res.Child = decision.Child
	case store.Rotated:
		t.RotatedAt, t.ChildHash = p.Now, p.ChildHash
		s.refresh[t.Hash] = t
		child := store.RefreshToken{Hash: p.ChildHash, FamilyID: f.ID, ParentHash: t.Hash, CreatedAt: p.Now, ExpiresAt: p.ChildExpiresAt}
		s.refresh[child.Hash] = child
		res.Presented, res.Child = t, child
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

func (s *Store) RecordAccessToken(ctx context.Context, r store.AccessTokenRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.access[r.JTI]; ok {
		return store.ErrConflict
	}
	s.access[r.JTI] = r
	return nil
}

func (s *Store) GetAccessToken(ctx context.Context, jti string) (store.AccessTokenRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.access[jti]
	if !ok {
		return store.AccessTokenRecord{}, store.ErrNotFound
	}
	if f, ok := s.families[r.FamilyID]; ok && f.Revoked() && r.RevokedAt.IsZero() {
		r.RevokedAt = f.RevokedAt
	}
	return r, nil
}

func (s *Store) RevokeAccessToken(ctx context.Context, jti string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.access[jti]
	if !ok {
		return store.ErrNotFound
	}
	if r.RevokedAt.IsZero() {
		r.RevokedAt = now
		s.access[jti] = r
	}
	return nil
}

func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[sess.IDHash] = sess
	return nil
}

func (s *Store) GetSession(ctx context.Context, idHash string, now time.Time) (store.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[idHash]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	if !now.Before(sess.ExpiresAt) {
		return sess, store.ErrExpired
	}
	return sess, nil
}

func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, idHash)
	return nil
}

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

func (s *Store) CreateAgentIdentity(ctx context.Context, a store.AgentIdentity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.agents[a.RuntimeID]; ok {
		return store.ErrConflict
	}
	s.agents[a.RuntimeID] = a
	return nil
}

func (s *Store) GetAgentIdentity(ctx context.Context, runtimeID string) (store.AgentIdentity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[runtimeID]
	if !ok {
		return store.AgentIdentity{}, store.ErrNotFound
	}
	return a, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[runtimeID]
	if !ok {
		return store.ErrNotFound
	}
	if a.RevokedAt.IsZero() {
		a.RevokedAt = now
		s.agents[runtimeID] = a
	}
	return nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[taskID]
	if !ok {
		return store.AgentTask{}, store.ErrNotFound
	}
	return t, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nonces[nonce]; ok {
		return store.ErrAlreadyUsed
	}
	s.nonces[nonce] = expiresAt
	return nil
}

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

func (s *Store) CreatePAT(ctx context.Context, p store.PersonalAccessToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pats[p.Hash]; ok {
		return store.ErrConflict
	}
	s.pats[p.Hash] = p
	return nil
}

func (s *Store) GetPAT(ctx context.Context, hash string) (store.PersonalAccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pats[hash]
	if !ok {
		return p, store.ErrNotFound
	}
	return p, nil
}

func (s *Store) RevokePAT(ctx context.Context, hash string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pats[hash]
	if !ok {
		return store.ErrNotFound
	}
	if p.RevokedAt.IsZero() {
		p.RevokedAt = now
		s.pats[hash] = p
	}
	return nil
}
