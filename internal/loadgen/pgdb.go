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
// at and returns a DSN for it. With durable, it also asks for fsync and
// synchronous_commit (ALTER SYSTEM) and refuses a server that still runs
// without them: scripts/pg.sh starts its throwaway cluster with -c
// fsync=off unless PG_DURABLE=1, and that would flatter every commit.
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
	if durable {
		// ALTER SYSTEM loses to a -c on the server's command line: check
		// what the server really does, or the figures are not durable ones.
		for _, setting := range []string{"fsync", "synchronous_commit"} {
			var v string
			if err := db.QueryRowContext(ctx, "SHOW "+setting).Scan(&v); err != nil {
				return "", fmt.Errorf("SHOW %s: %w", setting, err)
			}
			if v != "on" {
				return "", fmt.Errorf("%s is %s on this cluster (a -c on its command line wins over ALTER SYSTEM): start it with PG_DURABLE=1 scripts/pg.sh", setting, v)
			}
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}
