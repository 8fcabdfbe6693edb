package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	return unwrapSentinel(s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM device_codes WHERE user_code_hash = ? AND expires_at > ?`), d.UserCodeHash, ns(d.CreatedAt)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return sentinelErr{store.ErrConflict}
		}
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO device_codes (id_hash, user_code_hash, client_id, status, user_id, created_at, expires_at, decided_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id_hash) DO NOTHING`),
			d.IDHash, d.UserCodeHash, d.ClientID, string(d.Status), d.UserID, ns(d.CreatedAt), ns(d.ExpiresAt), ns(d.DecidedAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sentinelErr{store.ErrConflict}
		}
		return nil
	}))
}

const deviceCols = `id_hash, user_code_hash, client_id, status, user_id, created_at, expires_at, decided_at`

func scanDevice(row interface{ Scan(...any) error }) (store.DeviceCode, error) {
	var d store.DeviceCode
	var status string
	var created, expires, decided int64
	if err := row.Scan(&d.IDHash, &d.UserCodeHash, &d.ClientID, &status, &d.UserID, &created, &expires, &decided); err != nil {
		return d, notFound(err)
	}
	d.Status, d.CreatedAt, d.ExpiresAt, d.DecidedAt = store.DeviceStatus(status), tm(created), tm(expires), tm(decided)
	return d, nil
}

func (s *Store) GetDeviceCode(ctx context.Context, idHash string) (store.DeviceCode, error) {
	return scanDevice(s.db.QueryRowContext(ctx, s.q(`SELECT `+deviceCols+` FROM device_codes WHERE id_hash = ?`), idHash))
}

func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, h string) (store.DeviceCode, error) {
	return scanDevice(s.db.QueryRowContext(ctx, s.q(`SELECT `+deviceCols+` FROM device_codes WHERE user_code_hash = ? ORDER BY created_at DESC LIMIT 1`), h))
}

func (s *Store) DecideDeviceCode(ctx context.Context, h string, approve bool, userID string, now time.Time) (store.DeviceCode, error) {
	var d store.DeviceCode
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = scanDevice(tx.QueryRowContext(ctx, s.q(`SELECT `+deviceCols+` FROM device_codes WHERE user_code_hash = ? ORDER BY created_at DESC LIMIT 1`+s.d.ForUpdate), h))
		if err != nil {
			return err
		}
		if !now.Before(d.ExpiresAt) {
			return sentinelErr{store.ErrExpired}
		}
		if d.Status != store.DevicePending {
			return sentinelErr{store.ErrConflict}
		}
		if approve {
			d.Status, d.UserID = store.DeviceApproved, userID
		} else {
			d.Status = store.DeviceDenied
		}
		d.DecidedAt = now
		_, err = tx.ExecContext(ctx, s.q(`UPDATE device_codes SET status = ?, user_id = ?, decided_at = ? WHERE id_hash = ?`), string(d.Status), d.UserID, ns(now), d.IDHash)
		return err
	})
	return d, unwrapSentinel(err)
}

func (s *Store) ClaimDeviceCode(ctx context.Context, idHash string, now time.Time) (store.DeviceCode, error) {
	var d store.DeviceCode
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = scanDevice(tx.QueryRowContext(ctx, s.q(`SELECT `+deviceCols+` FROM device_codes WHERE id_hash = ?`+s.d.ForUpdate), idHash))
		if err != nil {
			return err
		}
		switch d.Status {
		case store.DeviceExchanged:
			return sentinelErr{store.ErrAlreadyUsed}
		case store.DeviceDenied:
			return sentinelErr{store.ErrDenied}
		}
		if !now.Before(d.ExpiresAt) {
			return sentinelErr{store.ErrExpired}
		}
		if d.Status == store.DevicePending {
			return sentinelErr{store.ErrPending}
		}
		d.Status = store.DeviceExchanged
		_, err = tx.ExecContext(ctx, s.q(`UPDATE device_codes SET status = ? WHERE id_hash = ?`), string(d.Status), idHash)
		return err
	})
	return d, unwrapSentinel(err)
}
