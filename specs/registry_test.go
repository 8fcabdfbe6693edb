package specs_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/codexauth/codexauth/harness/registry"
)

var update = flag.Bool("update", false, "rewrite docs/requirements.md")

var specCall = regexp.MustCompile(`Requirement\("(CDX-[A-Z]+-\d{3})"`)

// specFiles finds every Requirement("ID", …) in the spec sources.
func specFiles(t *testing.T) map[string]string {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range specCall.FindAllStringSubmatch(string(b), -1) {
			if prev, dup := out[m[1]]; dup {
				t.Errorf("%s has specs in %s and %s", m[1], prev, f)
			}
			out[m[1]] = f
		}
	}
	return out
}

// TestRegistry keeps the frozen registry and the specs in step: every
// requirement has exactly one spec and every spec a requirement.
func TestRegistry(t *testing.T) {
	files := specFiles(t)
	for _, r := range registry.Requirements {
		if files[r.ID] == "" {
			t.Errorf("requirement %s (%s) has no spec", r.ID, r.Title)
		}
		if r.Level != registry.MUST && r.Level != registry.SHOULD {
			t.Errorf("%s: level %q", r.ID, r.Level)
		}
		if r.Section == "" || r.Title == "" {
			t.Errorf("%s: needs a title and a contract section", r.ID)
		}
		if registry.Impact[r.ID] == "" {
			t.Errorf("%s: says nothing of what its violation costs (harness/impact.go)", r.ID)
		}
	}
	for id := range registry.Impact {
		if _, ok := registry.Lookup(id); !ok {
			t.Errorf("impact for %s, which is not a requirement", id)
		}
	}
	for id := range files {
		if _, ok := registry.Lookup(id); !ok {
			t.Errorf("spec for %s, which is not in harness/requirements.go", id)
		}
	}
	if n := len(registry.Requirements); n < 60 {
		t.Errorf("only %d requirements", n)
	}
}

// TestCatalogue keeps docs/requirements.md generated from the registry.
func TestCatalogue(t *testing.T) {
	want := registry.Catalogue(specFiles(t))
	path := filepath.Join("..", "docs", "requirements.md")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("docs/requirements.md is out of date: run `go test ./specs -run TestCatalogue -update`")
	}
}
