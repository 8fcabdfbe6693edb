package loadgen

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

var dbName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// FreshPostgresDB (re)creates database name on the server adminDSN points
// at and returns a DSN for it. With durable, it also turns fsync on for the
// server (ALTER SYSTEM; scripts/pg.sh starts its throwaway cluster with
// fsync off, which would flatter every commit).
func FreshPostgresDB(ctx context.Context, adminDSN, name string, durable bool) (string, error) {
	if !dbName.MatchString(name) {
		return "", fmt.Errorf("database name %q: use lower-case letters, digits and _", name)
	}
	u, err := url.Parse(adminDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("admin DSN must be a postgres:// URL")
	}
	db, err := sql.Open("pgx", adminDSN)
	if err != nil {
		return "", err
	}
	defer db.Close()
	stmts := []string{`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`, `CREATE DATABASE ` + name}
	if durable {
		stmts = append(stmts, `ALTER SYSTEM SET fsync = on`, `ALTER SYSTEM SET synchronous_commit = on`, `SELECT pg_reload_conf()`)
	}
	for _, st := range stmts {
		if _, err := db.ExecContext(ctx, st); err != nil {
			return "", fmt.Errorf("%s: %w", st, err)
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}
