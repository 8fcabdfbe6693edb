package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/ory/dockertest/v3"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// PostgresDSN is the server the PostgreSQL tests use: the one
// scripts/pg.sh started (CODEXAUTH_TEST_POSTGRES), else a container of
// CODEXAUTH_TEST_POSTGRES_IMAGE (default postgres:15) started through
// dockertest where a Docker engine answers.
// With neither the test fails — PostgreSQL tests are never skipped — and
// says how to provide one.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv("CODEXAUTH_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	dsn, why := dockerPostgres()
	if dsn == "" {
		t.Fatal("PostgreSQL tests need a server and none was given: run them through scripts/test.sh, or " +
			"`scripts/pg.sh -- go test ./...`, or set CODEXAUTH_TEST_POSTGRES=postgres://user@host:port/db?sslmode=disable " +
			"(the user must be allowed to CREATE DATABASE). Docker fallback: " + why)
	}
	return dsn
}

var (
	dockerOnce sync.Once
	dockerDSN  string
	dockerWhy  string
)

// dockerPostgres starts one postgres:15 container per test binary when a
// Docker engine answers; it is removed when the binary exits (dockertest's
// expiry) or by Purge at the end of the process.
func dockerPostgres() (string, string) {
	dockerOnce.Do(func() {
		pool, err := dockertest.NewPool("")
		if err == nil {
			err = pool.Client.Ping()
		}
		if err != nil {
			dockerWhy = "no Docker engine answers (" + err.Error() + ")"
			return
		}
		opts, hostNet, hostPort, err := postgresRunOptions(pool)
		if err != nil {
			dockerWhy = err.Error()
			return
		}
		res, err := pool.RunWithOptions(opts, hostNetwork(hostNet))
		if err != nil {
			dockerWhy = "could not start " + opts.Repository + ":" + opts.Tag + ": " + err.Error()
			return
		}
		_ = res.Expire(600)
		addr := res.GetHostPort("5432/tcp")
		if hostNet {
			addr = "127.0.0.1:" + hostPort
		}
		fmt.Fprintf(os.Stderr, "storetest: PostgreSQL through dockertest: image %s:%s, container %.12s, %s\n", opts.Repository, opts.Tag, res.Container.ID, addr)
		dsn := "postgres://postgres:codexauth@" + addr + "/postgres?sslmode=disable"
		err = pool.Retry(func() error {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				return err
			}
			defer db.Close()
			return db.Ping()
		})
		if err != nil {
			_ = pool.Purge(res)
			dockerWhy = opts.Repository + ":" + opts.Tag + " container did not become ready: " + err.Error()
			return
		}
		dockerDSN = dsn
	})
	return dockerDSN, dockerWhy
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
