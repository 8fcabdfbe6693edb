package registry

import (
	"fmt"
	"strings"
)

// Catalogue renders docs/requirements.md from the registry. specFile maps
// a requirement id to the file of its spec.
func Catalogue(specFile map[string]string) string {
	var b strings.Builder
	b.WriteString("# Requirement catalogue\n\n")
	b.WriteString("<!-- Generated from harness/requirements.go and specs/*.go by `go test ./specs -run TestCatalogue -update`. Do not edit. -->\n\n")
	b.WriteString("Every requirement is checked by exactly one spec, labelled `req:<id>`, `profile:<profile>` and `level:<level>`.\n")
	b.WriteString("Sections (§) refer to [`codex-issuer-contract.md`](codex-issuer-contract.md); DESIGN refers to the project's design.\n")
	b.WriteString("`codexauth conform --profile P` runs and requires profile P; without `--profile` every profile runs and `core` is required.\n\n")
	counts := map[string]map[Level]int{}
	for _, r := range Requirements {
		if counts[r.Profile] == nil {
			counts[r.Profile] = map[Level]int{}
		}
		counts[r.Profile][r.Level]++
	}
	b.WriteString("| profile | MUST | SHOULD |\n|---|---|---|\n")
	for _, p := range Profiles {
		if c, ok := counts[p]; ok {
			fmt.Fprintf(&b, "| %s | %d | %d |\n", p, c[MUST], c[SHOULD])
		}
	}
	fmt.Fprintf(&b, "| **all** | %d | %d |\n", countLevel(MUST), countLevel(SHOULD))
	for _, p := range Profiles {
		if _, ok := counts[p]; !ok {
			continue
		}
		fmt.Fprintf(&b, "\n## Profile `%s`\n\n| id | level | requirement | when violated | contract | spec |\n|---|---|---|---|---|---|\n", p)
		for _, r := range Requirements {
			if r.Profile != p {
				continue
			}
			file := specFile[r.ID]
			if file == "" {
				file = "—"
			} else {
				file = "[" + file + "](../specs/" + file + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.ID, r.Level, strings.ReplaceAll(r.Title, "|", "\\|"),
				strings.ReplaceAll(Impact[r.ID], "|", "\\|"), r.Section, file)
		}
	}
	return b.String()
}

func countLevel(l Level) int {
	n := 0
	for _, r := range Requirements {
		if r.Level == l {
			n++
		}
	}
	return n
}
