package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// PostgresDSN is the server scripts/pg.sh started (CODEXAUTH_TEST_POSTGRES).
// Without one the test fails — PostgreSQL tests are never skipped — and
// says how to provide it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("CODEXAUTH_TEST_POSTGRES")
	if dsn == "" {
		t.Fatal("PostgreSQL tests need a server: run them through scripts/test.sh, or `scripts/pg.sh -- go test ./...`, " +
			"or set CODEXAUTH_TEST_POSTGRES=postgres://user@host:port/db?sslmode=disable (the user must be allowed to CREATE DATABASE)")
	}
	return dsn
}

// FreshPostgres creates an empty database on the server at dsn for one
// test, drops it afterwards, and returns its DSN.
func FreshPostgres(t testing.TB, dsn string) string {
	t.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "codexauth_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", dsn); err == nil {
			_, _ = a.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
			a.Close()
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("CODEXAUTH_TEST_POSTGRES must be a postgres:// URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
