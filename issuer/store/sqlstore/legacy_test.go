package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
	"github.com/codexauth/codexauth/issuer/store/sqlstore"
)

// legacySchema builds, on db, the schema the former statement splitter
// applied for versions 1 and 2, with the bookkeeping it wrote.
func legacySchema(t *testing.T, db *sql.DB, blobType string) {
	t.Helper()
	b, err := os.ReadFile("testdata/legacy_v1_v2.sql")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	if blobType != "" {
		script = strings.ReplaceAll(script, " BLOB ", " "+blobType+" ")
	}
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`}
	for _, st := range strings.Split(script, ";\n") { // the fixture is plain: one statement per ";\n"
		var code []string
		for _, l := range strings.Split(st, "\n") {
			if !strings.HasPrefix(l, "--") {
				code = append(code, l)
			}
		}
		if st := strings.TrimSpace(strings.Join(code, "\n")); st != "" {
			stmts = append(stmts, st)
		}
	}
	stmts = append(stmts, fmt.Sprintf(`INSERT INTO schema_migrations (version, applied_at) VALUES (1, %d), (2, %d)`, time.Now().UnixNano(), time.Now().UnixNano()))
	for _, st := range stmts {
		if _, err := db.Exec(st); err != nil {
			t.Fatalf("legacy schema: %v\n%s", err, st)
		}
	}
}

// schemaFingerprint describes tables, columns and indexes in a form that
// ignores how the statements were written (comments, spacing).
func schemaFingerprint(t *testing.T, db *sql.DB, postgres bool) string {
	t.Helper()
	queries := []string{
		`SELECT m.name, p.name, p.type, p."notnull", COALESCE(p.dflt_value, ''), p.pk
		 FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY 1, 2`,
		`SELECT m.name, l.name, l."unique", l.partial, i.name
		 FROM sqlite_master m, pragma_index_list(m.name) l, pragma_index_info(l.name) i WHERE m.type = 'table' ORDER BY 1, 2, 5`,
	}
	if postgres {
		queries = []string{
			`SELECT table_name, column_name, data_type, is_nullable, COALESCE(column_default, '')
			 FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`,
			`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`,
		}
	}
	var b strings.Builder
	for _, q := range queries {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// exerciseUpgraded checks that a store opened on a legacy database kept its
// bookkeeping (nothing re-applied) and works.
func exerciseUpgraded(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	var rows int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations WHERE version <= 2`).Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("legacy bookkeeping changed: %d rows for versions 1-2, %v", rows, err)
	}
	ms, err := sqlstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != ms[len(ms)-1].Version {
		t.Fatalf("schema version %d, %v; want %d", v, err, ms[len(ms)-1].Version)
	}
	now := time.Now()
	if err := s.CreateFamily(ctx, store.Family{ID: "f", UserID: "u", ClientID: "c", CreatedAt: now},
		store.RefreshToken{Hash: "r0", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r, err := s.RotateRefreshToken(ctx, store.RotateParams{PresentedHash: "r0", ChildHash: "r1", ChildExpiresAt: now.Add(time.Hour), Now: now})
	if err != nil || r.Outcome != store.Rotated {
		t.Fatalf("rotation on a legacy database: %v %v", r.Outcome, err)
	}
	if err := s.CreatePAT(ctx, store.PersonalAccessToken{Hash: "p", UserID: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteLegacyDatabase: a database the statement splitter migrated
// (versions 1 and 2) opens without re-applying anything, keeps working, and
// has the very schema a fresh database gets from the per-file migrations.
func TestSQLiteLegacyDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	legacyPath := filepath.Join(dir, "legacy.db")
	raw, err := sql.Open("sqlite", "file:"+legacyPath)
	if err != nil {
		t.Fatal(err)
	}
	legacySchema(t, raw, "")
	want := schemaFingerprint(t, raw, false)
	raw.Close()

	fresh, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	sameSchema(t, want, schemaFingerprint(t, fresh.DB(), false))

	s, err := sqlstore.OpenSQLite(ctx, legacyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exerciseUpgraded(t, s)
	if got, want := schemaFingerprint(t, s.DB(), false), schemaFingerprint(t, fresh.DB(), false); got != want {
		t.Fatalf("upgraded legacy database differs from a fresh one:\n--- upgraded\n%s--- fresh\n%s", got, want)
	}
}

// TestPostgresLegacyDatabase is the same on PostgreSQL.
func TestPostgresLegacyDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := postgresDSN(t)
	legacyDSN := freshDatabase(t, dsn)
	raw, err := sql.Open("pgx", legacyDSN)
	if err != nil {
		t.Fatal(err)
	}
	legacySchema(t, raw, "BYTEA")
	want := schemaFingerprint(t, raw, true)
	raw.Close()

	fresh, err := sqlstore.OpenPostgres(ctx, freshDatabase(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	sameSchema(t, want, schemaFingerprint(t, fresh.DB(), true))

	s, err := sqlstore.OpenPostgres(ctx, legacyDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exerciseUpgraded(t, s)
	if got, want := schemaFingerprint(t, s.DB(), true), schemaFingerprint(t, fresh.DB(), true); got != want {
		t.Fatalf("upgraded legacy database differs from a fresh one:\n--- upgraded\n%s--- fresh\n%s", got, want)
	}
}

// sameSchema fails unless every table, column and index the splitter built
// is in the fresh schema, alike (later migrations may add more).
func sameSchema(t *testing.T, legacy, fresh string) {
	t.Helper()
	if n := strings.Count(legacy, "\n"); n < 20 {
		t.Fatalf("schema fingerprint has %d lines; the query found no schema:\n%s", n, legacy)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(fresh, "\n") {
		have[l] = true
	}
	for _, l := range strings.Split(legacy, "\n") {
		if !have[l] {
			t.Fatalf("the per-file migrations build another schema than the splitter did: %q missing\n--- splitter\n%s--- per-file\n%s", l, legacy, fresh)
		}
	}
}
