// Package sqlstore implements store.Store once, in portable SQL, for the two
// SQL backends: SQLite (modernc.org/sqlite, no cgo) and PostgreSQL (pgx).
// A Dialect covers their few differences: placeholders, row locks, blob
// type and the migration lock.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Dialect describes one SQL engine.
type Dialect struct {
	Name string
	// Numbered placeholders ($1, $2) instead of '?'.
	Numbered bool
	// ForUpdate is appended to SELECTs that read a row about to change.
	ForUpdate string
	// BlobType replaces BLOB in migrations.
	BlobType string
	// LockMigrations serialises schema migration across processes inside tx.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// IsTransient classifies driver errors that a retry may cure (SQLite busy,
	// PostgreSQL serialization failures); nil means none are retried.
	IsTransient func(error) bool
}

// Store is a store.Store over database/sql.
type Store struct {
	db *sql.DB
	d  Dialect
}

var _ store.Store = (*Store)(nil)

// Open wraps db, applying pending migrations first.
func Open(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, fmt.Errorf("%s: migrate: %w", d.Name, err)
	}
	return s, nil
}

// DB exposes the handle (tests and tools).
func (s *Store) DB() *sql.DB { return s.db }

// Migrations lists the embedded migrations in order, as (version, SQL).
func Migrations() ([]int, map[int]string, error) {
	entries, err := migrationFS.ReadDir("migrations")
	if err != nil {
		return nil, nil, err
	}
	var versions []int
	texts := map[int]string{}
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			return nil, nil, fmt.Errorf("migration %q: name must be NNNN_what.sql", e.Name())
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, nil, fmt.Errorf("migration %q: %w", e.Name(), err)
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, nil, err
		}
		versions = append(versions, v)
		texts[v] = string(b)
	}
	sort.Ints(versions)
	return versions, texts, nil
}

// migrate applies every embedded migration not yet recorded, each in its
// own transaction under the dialect's migration lock, so two replicas
// starting together apply each version exactly once.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		// Two PostgreSQL replicas may race on CREATE TABLE IF NOT EXISTS; the
		// loser sees a unique violation on the catalogue. Re-check once.
		if _, err2 := s.db.ExecContext(ctx, `SELECT 1 FROM schema_migrations LIMIT 1`); err2 != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	versions, texts, err := Migrations()
	if err != nil {
		return err
	}
	for _, v := range versions {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.d.LockMigrations != nil {
				if err := s.d.LockMigrations(ctx, tx); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			text := texts[v]
			if s.d.BlobType != "" {
				text = strings.ReplaceAll(text, " BLOB ", " "+s.d.BlobType+" ")
			}
			for _, stmt := range splitStatements(text) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("version %d: %w\n%s", v, err, stmt)
				}
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion reports the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

func splitStatements(text string) []string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	var out []string
	for _, st := range strings.Split(strings.Join(lines, "\n"), ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, st)
		}
	}
	return out
}

// q rewrites '?' placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tx runs fn in a transaction, retrying a few times when the engine reports
// a transient conflict (SQLite busy, PostgreSQL serialization failure).
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.tx1(ctx, fn)
		if err == nil || s.d.IsTransient == nil || !s.d.IsTransient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
		}
	}
	return err
}

func (s *Store) tx1(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	if err := fn(tx); err != nil {
		var keep committed
		if !errors.As(err, &keep) {
			_ = tx.Rollback()
			return err
		}
		if cerr := tx.Commit(); cerr != nil {
			return fmt.Errorf("%s: commit: %w", s.d.Name, cerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return nil
}

// sentinelErr carries a semantic result out of a transaction that must still
// commit (for example a consumed-but-expired code).
type sentinelErr struct{ err error }

func (e sentinelErr) Error() string { return e.err.Error() }
func (e sentinelErr) Unwrap() error { return e.err }

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func tm(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return s.db.PingContext(ctx)
}

// Close closes the database handle.
func (s *Store) Close() error { return s.db.Close() }

// ---- users

func (s *Store) PutUser(ctx context.Context, u store.User) error {
	b, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encode user: %w", err)
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO users (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data`), u.ID, string(b))
	return err
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	var data string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT data FROM users WHERE id = ?`), id).Scan(&data); err != nil {
		return store.User{}, notFound(err)
	}
	var u store.User
	if err := json.Unmarshal([]byte(data), &u); err != nil {
		return store.User{}, fmt.Errorf("decode user %q: %w", id, err)
	}
	return u, nil
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var u store.User
		if err := json.Unmarshal([]byte(data), &u); err != nil {
			return nil, fmt.Errorf("decode user: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *Store) DeleteUser(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM users WHERE id = ?`), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ---- authorization codes

func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO auth_codes (hash, client_id, redirect_uri, code_challenge, scope, user_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`),
		c.Hash, c.ClientID, c.RedirectURI, c.CodeChallenge, c.Scope, c.UserID, ns(c.CreatedAt), ns(c.ExpiresAt))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrConflict
	}
	return nil
}

func (s *Store) ConsumeAuthCode(ctx context.Context, hash string, now time.Time, familyID string) (store.AuthCode, error) {
	var c store.AuthCode
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var created, expires, used int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT client_id, redirect_uri, code_challenge, scope, user_id, created_at, expires_at, used_at, family_id
			FROM auth_codes WHERE hash = ?`+s.d.ForUpdate), hash).
			Scan(&c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.Scope, &c.UserID, &created, &expires, &used, &c.FamilyID)
		if err != nil {
			return notFound(err)
		}
		c.Hash, c.CreatedAt, c.ExpiresAt, c.UsedAt = hash, tm(created), tm(expires), tm(used)
		if used != 0 {
			return sentinelErr{store.ErrAlreadyUsed}
		}
		c.UsedAt = now
		var result error
		if !now.Before(c.ExpiresAt) {
			result = sentinelErr{store.ErrExpired}
		} else {
			c.FamilyID = familyID
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE auth_codes SET used_at = ?, family_id = ? WHERE hash = ?`), ns(now), c.FamilyID, hash); err != nil {
			return err
		}
		if result != nil {
			// Commit the "used" mark, then report.
			return commitThen(result)
		}
		return nil
	})
	return c, unwrapSentinel(err)
}

// commitThen marks a semantic result that must not roll back the transaction.
type committed struct{ err error }

func (e committed) Error() string { return e.err.Error() }
func (e committed) Unwrap() error { return e.err }

func commitThen(err error) error { return committed{err} }

func unwrapSentinel(err error) error {
	var se sentinelErr
	if errors.As(err, &se) {
		return se.err
	}
	var ce committed
	if errors.As(err, &ce) {
		return unwrapSentinel(ce.err)
	}
	return err
}

// ---- device codes

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

// ---- refresh-token families

func (s *Store) CreateFamily(ctx context.Context, f store.Family, first store.RefreshToken) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO families (id, user_id, client_id, scope, created_at) VALUES (?, ?, ?, ?, ?)`),
			f.ID, f.UserID, f.ClientID, f.Scope, ns(f.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens (hash, family_id, parent_hash, created_at, expires_at) VALUES (?, ?, '', ?, ?)`),
			first.Hash, f.ID, ns(first.CreatedAt), ns(first.ExpiresAt))
		return err
	})
}

const refreshCols = `hash, family_id, parent_hash, child_hash, created_at, expires_at, rotated_at`
const familyCols = `id, user_id, client_id, scope, created_at, revoked_at, revoke_reason`

func scanRefresh(row interface{ Scan(...any) error }) (store.RefreshToken, error) {
	var t store.RefreshToken
	var c, e, r int64
	if err := row.Scan(&t.Hash, &t.FamilyID, &t.ParentHash, &t.ChildHash, &c, &e, &r); err != nil {
		return t, notFound(err)
	}
	t.CreatedAt, t.ExpiresAt, t.RotatedAt = tm(c), tm(e), tm(r)
	return t, nil
}

func scanFamily(row interface{ Scan(...any) error }) (store.Family, error) {
	var f store.Family
	var c, r int64
	if err := row.Scan(&f.ID, &f.UserID, &f.ClientID, &f.Scope, &c, &r, &f.RevokeReason); err != nil {
		return f, notFound(err)
	}
	f.CreatedAt, f.RevokedAt = tm(c), tm(r)
	return f, nil
}

func (s *Store) GetRefreshToken(ctx context.Context, hash string) (store.RefreshToken, store.Family, error) {
	t, err := scanRefresh(s.db.QueryRowContext(ctx, s.q(`SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = ?`), hash))
	if err != nil {
		return t, store.Family{}, err
	}
	f, err := s.GetFamily(ctx, t.FamilyID)
	return t, f, err
}

func (s *Store) GetFamily(ctx context.Context, id string) (store.Family, error) {
	return scanFamily(s.db.QueryRowContext(ctx, s.q(`SELECT `+familyCols+` FROM families WHERE id = ?`), id))
}

func (s *Store) ListFamilies(ctx context.Context, userID string) ([]store.Family, error) {
	query, args := `SELECT `+familyCols+` FROM families ORDER BY created_at`, []any{}
	if userID != "" {
		query, args = `SELECT `+familyCols+` FROM families WHERE user_id = ? ORDER BY created_at`, []any{userID}
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Family
	for rows.Next() {
		f, err := scanFamily(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (s *Store) RotateRefreshToken(ctx context.Context, p store.RotateParams) (store.RotateResult, error) {
	var res store.RotateResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res = store.RotateResult{}
		t, err := scanRefresh(tx.QueryRowContext(ctx, s.q(`SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = ?`+s.d.ForUpdate), p.PresentedHash))
		if errors.Is(err, store.ErrNotFound) {
			res.Outcome = store.Unknown
			return nil
		}
		if err != nil {
			return err
		}
		f, err := scanFamily(tx.QueryRowContext(ctx, s.q(`SELECT `+familyCols+` FROM families WHERE id = ?`+s.d.ForUpdate), t.FamilyID))
		if err != nil {
			return fmt.Errorf("family of refresh token: %w", err)
		}
		res.Family, res.Presented = f, t
		dec := store.DecideRotation(t, f, p, func(h string) (store.RefreshToken, bool) {
			c, err := scanRefresh(tx.QueryRowContext(ctx, s.q(`SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = ?`), h))
			return c, err == nil
		})
		res.Outcome = dec.Outcome
		switch dec.Outcome {
		case store.Reused:
			if !f.Revoked() && !p.NoFamilyRevoke {
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE families SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at = 0`), ns(p.Now), "refresh_token_reused", f.ID); err != nil {
					return err
				}
				res.Family.RevokedAt, res.Family.RevokeReason = p.Now, "refresh_token_reused"
			}
		case store.GraceReplay:
			res.Child = dec.Child
		case store.Rotated:
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET rotated_at = ?, child_hash = ? WHERE hash = ?`), ns(p.Now), p.ChildHash, t.Hash); err != nil {
				return err
			}
			child := store.RefreshToken{Hash: p.ChildHash, FamilyID: f.ID, ParentHash: t.Hash, CreatedAt: p.Now, ExpiresAt: p.ChildExpiresAt}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens (hash, family_id, parent_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
				child.Hash, child.FamilyID, child.ParentHash, ns(child.CreatedAt), ns(child.ExpiresAt)); err != nil {
				return err
			}
			res.Presented.RotatedAt, res.Presented.ChildHash = p.Now, p.ChildHash
			res.Child = child
		}
		return nil
	})
	return res, err
}

func (s *Store) RevokeFamily(ctx context.Context, familyID, reason string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE families SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END,
		revoke_reason = CASE WHEN revoked_at = 0 THEN ? ELSE revoke_reason END WHERE id = ?`), ns(now), reason, familyID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ---- access tokens

func (s *Store) RecordAccessToken(ctx context.Context, r store.AccessTokenRecord) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO access_tokens (jti, family_id, user_id, client_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING`),
		r.JTI, r.FamilyID, r.UserID, r.ClientID, ns(r.IssuedAt), ns(r.ExpiresAt))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrConflict
	}
	return nil
}

func (s *Store) GetAccessToken(ctx context.Context, jti string) (store.AccessTokenRecord, error) {
	var r store.AccessTokenRecord
	var iss, exp, rev int64
	var famRev sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT a.jti, a.family_id, a.user_id, a.client_id, a.issued_at, a.expires_at, a.revoked_at, f.revoked_at
		FROM access_tokens a LEFT JOIN families f ON f.id = a.family_id WHERE a.jti = ?`), jti).
		Scan(&r.JTI, &r.FamilyID, &r.UserID, &r.ClientID, &iss, &exp, &rev, &famRev)
	if err != nil {
		return r, notFound(err)
	}
	if rev == 0 && famRev.Valid && famRev.Int64 != 0 {
		rev = famRev.Int64
	}
	r.IssuedAt, r.ExpiresAt, r.RevokedAt = tm(iss), tm(exp), tm(rev)
	return r, nil
}

func (s *Store) RevokeAccessToken(ctx context.Context, jti string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE access_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE jti = ?`), ns(now), jti)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ---- sessions

func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`),
		sess.IDHash, sess.UserID, ns(sess.CreatedAt), ns(sess.ExpiresAt))
	return err
}

func (s *Store) GetSession(ctx context.Context, idHash string, now time.Time) (store.Session, error) {
	var sess store.Session
	var c, e int64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT id_hash, user_id, created_at, expires_at FROM sessions WHERE id_hash = ?`), idHash).Scan(&sess.IDHash, &sess.UserID, &c, &e); err != nil {
		return sess, notFound(err)
	}
	sess.CreatedAt, sess.ExpiresAt = tm(c), tm(e)
	if !now.Before(sess.ExpiresAt) {
		return sess, store.ErrExpired
	}
	return sess, nil
}

func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE id_hash = ?`), idHash)
	return err
}

// ---- signing keys

const keyCols = `kid, algorithm, private_pem, created_at, retired_at, drop_after`

func scanKey(row interface{ Scan(...any) error }) (store.SigningKey, error) {
	var k store.SigningKey
	var c, r, d int64
	if err := row.Scan(&k.KID, &k.Algorithm, &k.PrivatePEM, &c, &r, &d); err != nil {
		return k, notFound(err)
	}
	k.CreatedAt, k.RetiredAt, k.DropAfter = tm(c), tm(r), tm(d)
	return k, nil
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyCols+` FROM signing_keys ORDER BY created_at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Store) EnsureActiveSigningKey(ctx context.Context, candidate store.SigningKey) (store.SigningKey, error) {
	// The partial unique index admits one active key; ON CONFLICT DO NOTHING
	// makes the losers of a start-up race fall through to reading the winner.
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO signing_keys (kid, algorithm, private_pem, created_at, retired_at, drop_after) VALUES (?, ?, ?, ?, 0, 0) ON CONFLICT DO NOTHING`),
		candidate.KID, candidate.Algorithm, candidate.PrivatePEM, ns(candidate.CreatedAt)); err != nil {
		return store.SigningKey{}, err
	}
	return scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyCols+` FROM signing_keys WHERE retired_at = 0`))
}

func (s *Store) RotateSigningKey(ctx context.Context, next store.SigningKey, now, dropAfter time.Time) error {
	return unwrapSentinel(s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM signing_keys WHERE kid = ?`), next.KID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return sentinelErr{store.ErrConflict}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE signing_keys SET retired_at = ?, drop_after = ? WHERE retired_at = 0`), ns(now), ns(dropAfter)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO signing_keys (kid, algorithm, private_pem, created_at, retired_at, drop_after) VALUES (?, ?, ?, ?, 0, 0)`),
			next.KID, next.Algorithm, next.PrivatePEM, ns(next.CreatedAt))
		return err
	}))
}

// ---- secrets

func (s *Store) GetOrCreateSecret(ctx context.Context, name string, candidate []byte) ([]byte, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), name, candidate); err != nil {
		return nil, err
	}
	var v []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM secrets WHERE name = ?`), name).Scan(&v)
	return v, err
}

// ---- agent identities

func (s *Store) CreateAgentIdentity(ctx context.Context, a store.AgentIdentity) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO agent_identities (runtime_id, user_id, account_id, public_key, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (runtime_id) DO NOTHING`),
		a.RuntimeID, a.UserID, a.AccountID, a.PublicKey, ns(a.CreatedAt), ns(a.ExpiresAt))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrConflict
	}
	return nil
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
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE agent_identities SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE runtime_id = ?`), ns(now), runtimeID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) CreateAgentTask(ctx context.Context, t store.AgentTask) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO agent_tasks (task_id, runtime_id, nonce, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		t.TaskID, t.RuntimeID, t.Nonce, ns(t.CreatedAt))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrConflict
	}
	return nil
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
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING`), nonce, ns(expiresAt))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrAlreadyUsed
	}
	return nil
}

// ---- garbage collection

func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	cut := ns(now.Add(-store.RetainUsed))
	stmts := []struct {
		q    string
		args []any
	}{
		{`DELETE FROM auth_codes WHERE expires_at < ?`, []any{cut}},
		{`DELETE FROM device_codes WHERE expires_at < ?`, []any{cut}},
		{`DELETE FROM sessions WHERE expires_at <= ?`, []any{ns(now)}},
		{`DELETE FROM used_nonces WHERE expires_at <= ?`, []any{ns(now)}},
		{`DELETE FROM access_tokens WHERE expires_at < ?`, []any{ns(now)}},
		{`DELETE FROM refresh_tokens WHERE expires_at < ?`, []any{cut}},
		{`DELETE FROM families WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = families.id)`, nil},
	}
	total := 0
	for _, st := range stmts {
		res, err := s.db.ExecContext(ctx, s.q(st.q), st.args...)
		if err != nil {
			return total, fmt.Errorf("gc: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}

// ---- personal access tokens

func (s *Store) CreatePAT(ctx context.Context, p store.PersonalAccessToken) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO personal_access_tokens (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`),
		p.Hash, p.UserID, ns(p.CreatedAt), ns(p.ExpiresAt))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrConflict
	}
	return nil
}

func (s *Store) GetPAT(ctx context.Context, hash string) (store.PersonalAccessToken, error) {
	var p store.PersonalAccessToken
	var c, e, r int64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT hash, user_id, created_at, expires_at, revoked_at FROM personal_access_tokens WHERE hash = ?`), hash).
		Scan(&p.Hash, &p.UserID, &c, &e, &r); err != nil {
		return p, notFound(err)
	}
	p.CreatedAt, p.ExpiresAt, p.RevokedAt = tm(c), tm(e), tm(r)
	return p, nil
}

func (s *Store) RevokePAT(ctx context.Context, hash string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE personal_access_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE hash = ?`), ns(now), hash)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}
