package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/issuer/store"
	"github.com/codexauth/codexauth/issuer/store/sqlstore"
	"github.com/codexauth/codexauth/issuer/store/storetest"
)

func TestSQLiteStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "codexauth.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSQLiteMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	for i := 0; i < 2; i++ {
		s, err := sqlstore.OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.SchemaVersion(context.Background())
		if err != nil || v < 1 {
			t.Fatalf("schema version %d, %v", v, err)
		}
		s.Close()
	}
}

func BenchmarkRotationSQLite(b *testing.B) {
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkRotation(b, s)
}

// TestSQLiteUpgradeAppliesOnlyNewMigrations: a database at an older schema
// version gets the missing migrations, and keeps its data.
func TestSQLiteUpgradeAppliesOnlyNewMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "up.db")
	s, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutUser(ctx, store.User{ID: "kept"}); err != nil {
		t.Fatal(err)
	}
	ms, err := sqlstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	latest := ms[len(ms)-1].Version
	// Pretend the newest migration never ran.
	if _, err := s.DB().Exec(`DROP TABLE personal_access_tokens`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`DELETE FROM schema_migrations WHERE version = ?`, latest); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != latest {
		t.Fatalf("schema version %d after upgrade, want %d", v, latest)
	}
	if _, err := s.GetUser(ctx, "kept"); err != nil {
		t.Fatalf("data lost in the upgrade: %v", err)
	}
	if _, err := s.GetPAT(ctx, "x"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("upgraded table missing: %v", err)
	}
}

func BenchmarkConcurrentRotationSQLite(b *testing.B) {
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkConcurrentRotation(b, s)
}
