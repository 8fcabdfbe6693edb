package memory

import (
	"context"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

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
	return lookup(s, s.devices, idHash)
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
