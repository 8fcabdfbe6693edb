package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/codexauth/codexauth/issuer/store"
	"github.com/codexauth/codexauth/issuer/store/sqlstore"
	"github.com/codexauth/codexauth/issuer/store/storetest"
)

// postgresDSN is the throwaway cluster scripts/pg.sh started. Without one
// the PostgreSQL tests fail (never skip silently) and say how to get one.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("CODEXAUTH_TEST_POSTGRES")
	if dsn == "" {
		t.Fatal("PostgreSQL tests need a server: run them through scripts/test.sh, or `scripts/pg.sh -- go test ./issuer/store/...`, " +
			"or set CODEXAUTH_TEST_POSTGRES=postgres://user@host:port/db?sslmode=disable (the user must be allowed to CREATE DATABASE)")
	}
	return dsn
}

// freshDatabase creates an empty database for one test and returns its DSN.
func freshDatabase(t *testing.T, dsn string) string {
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
		a, err := sql.Open("pgx", dsn)
		if err == nil {
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

func TestPostgresStore(t *testing.T) {
	dsn := postgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlstore.OpenPostgres(context.Background(), freshDatabase(t, dsn))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestPostgresConcurrentMigration starts replicas together on an empty
// database: each migration is applied once and every replica comes up.
func TestPostgresConcurrentMigration(t *testing.T) {
	db := freshDatabase(t, postgresDSN(t))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlstore.OpenPostgres(context.Background(), db)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("replica failed to start: %v", err)
	}
	s, err := sqlstore.OpenPostgres(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	versions, _, _ := sqlstore.Migrations()
	if n != len(versions) {
		t.Fatalf("%d migration rows, want %d", n, len(versions))
	}
}
