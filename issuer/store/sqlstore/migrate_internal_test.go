package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// TestMigrationStatementsRunWhole: a statement is executed as its file
// holds it, so "--" and ";" inside string literals survive (the former
// splitter cut them), and a version's files run in name order.
func TestMigrationStatementsRunWhole(t *testing.T) {
	ctx := context.Background()
	const literal = "keep -- this; and this"
	fsys := fstest.MapFS{
		"m/0001_first/01_table.sql":  {Data: []byte("-- a comment; with a semicolon\nCREATE TABLE notes (v TEXT NOT NULL DEFAULT '--')\n")},
		"m/0001_first/02_insert.sql": {Data: []byte("INSERT INTO notes (v) VALUES ('" + literal + "'); -- trailing\n")},
		"m/0002_second/01_more.sql":  {Data: []byte("INSERT INTO notes DEFAULT VALUES;")},
	}
	ms, err := loadMigrations(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[1].Version != 2 || len(ms[0].Statements) != 2 {
		t.Fatalf("loaded %+v", ms)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := &Store{db: db, d: SQLite}
	if err := s.apply(ctx, ms); err != nil {
		t.Fatal(err)
	}
	if err := s.apply(ctx, ms); err != nil { // nothing left to apply
		t.Fatal(err)
	}
	var got []string
	rows, err := db.Query(`SELECT v FROM notes ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if strings.Join(got, "|") != literal+"|--" {
		t.Fatalf("rows %q, want the literal whole and then the default", got)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != 2 {
		t.Fatalf("schema version %d, %v", v, err)
	}
}

// TestMigrationLayoutErrors: a stray file or a bad folder name is refused
// with its name rather than silently skipped.
func TestMigrationLayoutErrors(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"loose file":  {"m/0001_init.sql": {Data: []byte("SELECT 1")}},
		"bad version": {"m/init/01_a.sql": {Data: []byte("SELECT 1")}},
		"not sql":     {"m/0001_init/README.md": {Data: []byte("x")}},
		"duplicate":   {"m/0001_a/01.sql": {Data: []byte("SELECT 1")}, "m/001_b/01.sql": {Data: []byte("SELECT 1")}},
	} {
		if _, err := loadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
