package store

import (
	"context"
	"time"
)

// DeviceStatus is where a device authorization stands.
type DeviceStatus string

// Device statuses.
const (
	DevicePending   DeviceStatus = "pending"
	DeviceApproved  DeviceStatus = "approved"
	DeviceDenied    DeviceStatus = "denied"
	DeviceExchanged DeviceStatus = "exchanged"
)

// DeviceCode is one device authorization (codex's variant of RFC 8628).
type DeviceCode struct {
	IDHash       string
	UserCodeHash string
	ClientID     string
	Status       DeviceStatus
	UserID       string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	DecidedAt    time.Time
}

// DeviceCodes holds device authorizations.
type DeviceCodes interface {
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	GetDeviceCode(ctx context.Context, idHash string) (DeviceCode, error)
	GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string) (DeviceCode, error)
	// DecideDeviceCode moves a pending, unexpired code to approved (for
	// userID) or denied. ErrConflict when it was decided already.
	DecideDeviceCode(ctx context.Context, userCodeHash string, approve bool, userID string, now time.Time) (DeviceCode, error)
	// ClaimDeviceCode atomically moves an approved code to exchanged and
	// returns it: exactly one caller ever succeeds. Otherwise ErrPending,
	// ErrDenied, ErrExpired, ErrAlreadyUsed or ErrNotFound.
	ClaimDeviceCode(ctx context.Context, idHash string, now time.Time) (DeviceCode, error)
}
