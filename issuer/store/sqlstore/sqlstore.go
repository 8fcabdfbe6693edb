// Package sqlstore implements store.Store once, in portable SQL, for the two
// SQL backends: SQLite (modernc.org/sqlite, no cgo) and PostgreSQL (pgx).
// A Dialect covers their few differences: placeholders, row locks, blob
// type and the migration lock. One file per aggregate, as in package store;
// the schema lives in migrations/ (see migrate.go).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

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
	// GroupCommit is the largest number of concurrent rotations committed
	// in one transaction (see rotationBatcher); 0 gives each its own.
	GroupCommit int
}

// Store is a store.Store over database/sql.
type Store struct {
	db      *sql.DB
	d       Dialect
	batcher *rotationBatcher // nil without group commit
	// background stops the dialect's housekeeping (SQLite's checkpoints).
	background func()
	// prepared holds the hot path's statements, prepared once (query text
	// after q → *sql.Stmt): parsing SQL is a good part of a rotation's cost.
	prepared sync.Map
}

var _ store.Store = (*Store)(nil)

// Open wraps db, applying pending migrations first.
func Open(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, fmt.Errorf("%s: migrate: %w", d.Name, err)
	}
	if err := s.prepareHot(ctx, append(s.rotationQueries(), selectAccess)...); err != nil {
		return nil, err
	}
	if d.GroupCommit > 1 {
		s.batcher = newRotationBatcher(s, d.GroupCommit)
	}
	return s, nil
}

// DB exposes the handle (tests and tools).
func (s *Store) DB() *sql.DB { return s.db }

// execChanging runs a statement that must change a row (an insert that
// conflicts does nothing; an update or delete may match nothing) and
// returns ifUnchanged when it changed none.
func (s *Store) execChanging(ctx context.Context, ifUnchanged error, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ifUnchanged
	}
	return nil
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

// stmt returns query (with ? placeholders) as a statement of tx. The hot
// path's statements are prepared once at Open (see prepareHot), so they are
// parsed once per connection rather than at every execution; any other
// query is prepared on tx's own connection (never on a second one: a
// transaction waiting for a free connection could wait forever).
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	query = s.q(query)
	if st, ok := s.prepared.Load(query); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	return tx.PrepareContext(ctx, query)
}

// queryRow runs query outside a transaction, prepared when it is one of
// the hot statements.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	query = s.q(query)
	if st, ok := s.prepared.Load(query); ok {
		return st.(*sql.Stmt).QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, query, args...)
}

// prepareHot prepares the statements every refresh and validation runs.
func (s *Store) prepareHot(ctx context.Context, queries ...string) error {
	for _, query := range queries {
		query = s.q(query)
		st, err := s.db.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("%s: prepare: %w", s.d.Name, err)
		}
		s.prepared.Store(query, st)
	}
	return nil
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

// sentinelErr carries a semantic result (a store sentinel error) out of a
// transaction that rolls back.
type sentinelErr struct{ err error }

func (e sentinelErr) Error() string { return e.err.Error() }
func (e sentinelErr) Unwrap() error { return e.err }

// committed carries a semantic result out of a transaction that must still
// commit (for example the "used" mark of a consumed-but-expired code).
type committed struct{ err error }

func (e committed) Error() string { return e.err.Error() }
func (e committed) Unwrap() error { return e.err }

// commitThen marks err as a result that commits the transaction.
func commitThen(err error) error { return committed{err} }

// unwrapSentinel returns the sentinel error a transaction carried out, or
// err itself.
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

// Close stops group commit (after the batch in flight) and closes the
// database handle.
func (s *Store) Close() error {
	if s.batcher != nil {
		s.batcher.close()
	}
	if s.background != nil {
		s.background()
		s.background = nil
	}
	s.prepared.Range(func(_, st any) bool {
		_ = st.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}
