package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const storeDir = "../.."

// TestGeneratedFileUpToDate fails when issuer/store/failing_gen.go is not
// what the Store interface produces today: run `go generate ./issuer/store`.
func TestGeneratedFileUpToDate(t *testing.T) {
	want, err := Generate(storeDir, "failing_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(storeDir, "failing_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("issuer/store/failing_gen.go is out of date with the Store interface: run `go generate ./issuer/store`")
	}
}

// TestGenerateFromInterface checks the generator on a small package: embedded
// interfaces are expanded, zero values follow the declarations, Close is
// forwarded, and a new method appears without any hand edit.
func TestGenerateFromInterface(t *testing.T) {
	dir := t.TempDir()
	src := `package demo

import (
	"context"
	"time"
)

type Thing struct{ ID string }
type Count int
type Names []string

type Store interface {
	Things
	Close() error
	Ping(ctx context.Context) error
}

type Things interface {
	GetThing(ctx context.Context, id string) (Thing, error)
	CountThings(ctx context.Context, since time.Time) (Count, Names, time.Time, error)
	PutThings(ctx context.Context, things ...Thing) error
}
`
	if err := os.WriteFile(filepath.Join(dir, "demo.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Generate(dir, "failing_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"return Thing{}, err",
		"return Count(0), nil, time.Time{}, err",
		"return fs.Store.PutThings(ctx, things...)",
		"func (fs *Failing) Close() error {\n\treturn fs.Store.Close()\n}",
		"func (fs *Failing) Ping(ctx context.Context) error {\n\tif err := fs.Fail(); err != nil {",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("generated source lacks %q:\n%s", want, got)
		}
	}
}

// TestGenerateRefusesWhatItCannotWrap: a method whose last result is not an
// error cannot report an outage, so the generator says so instead of
// writing a wrapper that hides it.
func TestGenerateRefusesWhatItCannotWrap(t *testing.T) {
	dir := t.TempDir()
	src := "package demo\n\ntype Store interface {\n\tSize() int\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "demo.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(dir, "failing_gen.go"); err == nil || !strings.Contains(err.Error(), "Size") {
		t.Fatalf("Generate = %v, want an error naming Size", err)
	}
}
