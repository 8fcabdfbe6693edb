package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite is the dialect of modernc.org/sqlite. Write transactions begin
// IMMEDIATE (DSN _txlock), so the read-then-write of every one-time step
// holds the database write lock from its first statement.
var SQLite = Dialect{
	Name: "sqlite",
	// SQLite has one writer at a time: rotations queue for the write lock
	// anyway, so they may as well share its transaction and fsync.
	GroupCommit: 64,
	IsTransient: func(err error) bool {
		var se *sqlite.Error
		if errors.As(err, &se) {
			code := se.Code() & 0xff
			return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
		}
		return false
	},
}

// OpenSQLite opens (creating if needed) the SQLite database at path in WAL
// mode with a busy timeout and full fsync, and migrates it.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: empty path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create folder for %s: %w", path, err)
		}
	}
	q := url.Values{}
	// wal_autocheckpoint(0): the checkpoint runs in the background (see
	// checkpointLoop) instead of inside whichever commit crosses the
	// threshold — with group commit, that commit holds every rotation.
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(FULL)", "wal_autocheckpoint(0)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + strings.ReplaceAll(path, "?", "%3F") + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// The database holds hashes and signing keys: keep it private.
	_ = os.Chmod(path, 0o600)
	s, err := Open(ctx, db, SQLite)
	if err != nil {
		db.Close()
		return nil, err
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go checkpointLoop(db, time.Second, stop, stopped)
	s.background = func() { close(stop); <-stopped }
	return s, nil
}

// checkpointLoop copies committed WAL frames into the database file every
// interval without blocking readers or writers (PRAGMA wal_checkpoint
// PASSIVE), so the WAL stays small and no request pays for a checkpoint.
// Durability does not depend on it: a commit is durable once the WAL is
// synced (synchronous=FULL).
func checkpointLoop(db *sql.DB, interval time.Duration, stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _ = db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`) // a busy database is checkpointed next time
			cancel()
		}
	}
}
