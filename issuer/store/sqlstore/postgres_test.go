package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/codexauth/codexauth/issuer/store"
	"github.com/codexauth/codexauth/issuer/store/sqlstore"
	"github.com/codexauth/codexauth/issuer/store/storetest"
)

func postgresDSN(t *testing.T) string { return storetest.PostgresDSN(t) }

func freshDatabase(t *testing.T, dsn string) string { return storetest.FreshPostgres(t, dsn) }

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
	ms, err := sqlstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Fatalf("%d migration rows, want %d", n, len(ms))
	}
}

func BenchmarkRotationPostgres(b *testing.B) {
	s, err := sqlstore.OpenPostgres(context.Background(), storetest.FreshPostgres(b, storetest.PostgresDSN(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkRotation(b, s)
}

func BenchmarkConcurrentRotationPostgres(b *testing.B) {
	s, err := sqlstore.OpenPostgres(context.Background(), storetest.FreshPostgres(b, storetest.PostgresDSN(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkConcurrentRotation(b, s)
}
