package specs_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/harness/registry"
	"github.com/codexauth/codexauth/harness/report"
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
		if r.Impact == "" {
			t.Errorf("%s: says nothing of what its violation costs", r.ID)
		}
	}
	for id := range files {
		if _, ok := registry.Lookup(id); !ok {
			t.Errorf("spec for %s, which is not in harness/registry", id)
		}
	}
	if n := len(registry.Requirements); n < 60 {
		t.Errorf("only %d requirements", n)
	}
}

// TestCatalogue keeps docs/requirements.md and the generated blocks of the
// README (profile table, exit codes) written from the registry.
func TestCatalogue(t *testing.T) {
	check := func(path, want string) {
		t.Helper()
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is out of date: run `go test ./specs -run TestCatalogue -update`", path)
		}
	}
	check(filepath.Join("..", "docs", "requirements.md"), registry.Catalogue(specFiles(t)))

	readme := filepath.Join("..", "README.md")
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, block := range []struct{ name, body string }{
		{"profiles", registry.ProfileTable()},
		{"exit codes", report.ExitCodeHelp() + "\n"},
	} {
		if s, err = replaceGenerated(s, block.name, block.body); err != nil {
			t.Fatal(err)
		}
	}
	check(readme, s)
}

// replaceGenerated replaces the text between "<!-- generated: NAME" and
// "<!-- end generated: NAME -->" (the opening comment line stays).
func replaceGenerated(doc, name, body string) (string, error) {
	begin := strings.Index(doc, "<!-- generated: "+name)
	end := strings.Index(doc, "<!-- end generated: "+name+" -->")
	if begin < 0 || end < begin {
		return doc, fmt.Errorf("README.md has no generated block %q", name)
	}
	nl := strings.IndexByte(doc[begin:], '\n') + begin + 1
	return doc[:nl] + body + doc[end:], nil
}
