package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFS holds the schema: one folder per version (NNNN_what), one SQL
// statement per file (NN_what.sql), applied in file-name order. Statements
// are executed as written, never split, so a literal or comment may contain
// anything (the former splitter cut "--" inside string literals).
//
//go:embed migrations
var migrationFS embed.FS

// Migration is one schema version: its statements run in one transaction,
// which also records the version in schema_migrations.
type Migration struct {
	Version    int
	Name       string   // the folder, e.g. "0001_init"
	Files      []string // file names, in execution order
	Statements []string // the files' text, one statement each
}

// Migrations lists the embedded migrations in version order.
func Migrations() ([]Migration, error) { return loadMigrations(migrationFS, "migrations") }

// loadMigrations reads root's version folders from fsys.
func loadMigrations(fsys fs.FS, root string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if !e.IsDir() {
			return nil, fmt.Errorf("migration %q: want a folder NNNN_what holding one statement per .sql file", e.Name())
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: folder name must be NNNN_what", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		m := Migration{Version: v, Name: e.Name()}
		files, err := fs.ReadDir(fsys, path.Join(root, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migration %q: %w", e.Name(), err)
		}
		for _, f := range files { // fs.ReadDir sorts by name
			if f.IsDir() || !strings.HasSuffix(f.Name(), ".sql") {
				return nil, fmt.Errorf("migration %q: %q is not a .sql file", e.Name(), f.Name())
			}
			b, err := fs.ReadFile(fsys, path.Join(root, e.Name(), f.Name()))
			if err != nil {
				return nil, fmt.Errorf("migration %q: %w", e.Name(), err)
			}
			m.Files = append(m.Files, f.Name())
			m.Statements = append(m.Statements, string(b))
		}
		if len(m.Statements) == 0 {
			return nil, fmt.Errorf("migration %q has no statements", e.Name())
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// migrate applies every embedded migration not yet recorded.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	return s.apply(ctx, ms)
}

// apply runs each migration not yet recorded in schema_migrations in its
// own transaction under the dialect's migration lock, so two replicas
// starting together apply each version exactly once. The bookkeeping
// (version, applied_at in Unix nanoseconds) is the one every earlier
// release wrote, so databases they migrated carry on.
func (s *Store) apply(ctx context.Context, ms []Migration) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		// Two PostgreSQL replicas may race on CREATE TABLE IF NOT EXISTS; the
		// loser sees a unique violation on the catalogue. Re-check once.
		if _, err2 := s.db.ExecContext(ctx, `SELECT 1 FROM schema_migrations LIMIT 1`); err2 != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	for _, m := range ms {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.d.LockMigrations != nil {
				if err := s.d.LockMigrations(ctx, tx); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for i, stmt := range m.Statements {
				if s.d.BlobType != "" {
					stmt = strings.ReplaceAll(stmt, " BLOB ", " "+s.d.BlobType+" ")
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s/%s: %w", m.Name, m.Files[i], err)
				}
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.Version, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("version %d: %w", m.Version, err)
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
