package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// migrationLockID is the advisory-lock key under which replicas migrate.
const migrationLockID = 0x636f646578 // "codex"

// Postgres is the dialect of PostgreSQL through pgx. One-time steps lock
// their row with SELECT … FOR UPDATE, so replicas sharing a database
// serialise on it.
var Postgres = Dialect{
	Name:        "postgres",
	Numbered:    true,
	ForUpdate:   " FOR UPDATE",
	BlobType:    "BYTEA",
	GroupCommit: 64,
	LockMigrations: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID)
		return err
	},
	IsTransient: func(err error) bool {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			switch pe.Code {
			case "40001", "40P01": // serialization_failure, deadlock_detected
				return true
			}
		}
		return false
	},
}

// OpenPostgres connects to dsn (a postgres:// URL or key=value string) and
// migrates the schema.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetConnMaxIdleTime(time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s, err := Open(ctx, db, Postgres)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}
