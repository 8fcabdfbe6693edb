package codexcli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareVersionsIsNumeric(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"0.169.0", "0.169.0", 0},
		{"0.169.0", "0.169.1", -1},
		{"0.171.0", "0.169.1", 1},
		{"0.99.0", "0.169.0", -1}, // not a string comparison
		{"1.0.0", "0.999.9", 1},
		{"0.171.0-alpha.1", "0.171.0", -1},
		{"0.171.0", "0.171.0-alpha.1", 1},
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestFindVersionLooksInThatVersionsCacheFolder(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("CODEXAUTH_CACHE", cache)
	if _, err := FindVersion("0.171.0"); err == nil || !strings.Contains(err.Error(), "install-codex.sh 0.171.0") {
		t.Fatalf("missing version: %v", err)
	}
	bin := filepath.Join(cache, "codex-0.171.0", "node_modules", "@openai", "codex-linux-x64", "vendor", "x86_64-unknown-linux-musl", "bin", "codex")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho codex-cli 0.171.0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := FindVersion("0.171.0")
	if err != nil || got != bin {
		t.Fatalf("FindVersion = %q, %v; want %q", got, err, bin)
	}
	if _, err := FindVersion("0.169.0"); err == nil {
		t.Fatal("found 0.169.0 in a cache that holds only 0.171.0")
	}
	if v, err := BinaryVersion(context.Background(), got); err != nil || v != "0.171.0" {
		t.Fatalf("BinaryVersion = %q, %v", v, err)
	}
	if _, err := FindVersion("latest"); err == nil || !strings.Contains(err.Error(), "exact version") {
		t.Fatalf("a dist-tag: %v", err)
	}
}
