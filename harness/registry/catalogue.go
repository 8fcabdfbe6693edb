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
	b.WriteString("<!-- Generated from harness/registry and specs/*.go by `go test ./specs -run TestCatalogue -update`. Do not edit. -->\n\n")
	b.WriteString("Every requirement is checked by exactly one spec, labelled `req:<id>`, `profile:<profile>` and `level:<level>`.\n")
	b.WriteString("Sections (§) refer to [`codex-issuer-contract.md`](codex-issuer-contract.md); DESIGN refers to the project's design.\n")
	b.WriteString("`codexauth conform --profile P` runs and requires profile P; without `--profile` every profile runs and `core` is required.\n")
	b.WriteString("Levels: MUST where codex users fail, or where a stolen, revoked or logged-out credential keeps working, or a captured message mints new state (**Attacker:** says what an attacker gains); SHOULD where codex only degrades or a standard client would stumble.\n\n")
	b.WriteString(ProfileTable())
	for _, p := range ProfileInfos {
		if len(p.requirements) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## Profile `%s`\n\n%s. Needs: %s.\n\n| id | level | requirement | when violated | contract | spec |\n|---|---|---|---|---|---|\n", p.Name, upperFirst(p.What), p.Needs)
		for _, r := range p.requirements {
			file := specFile[r.ID]
			if file == "" {
				file = "—"
			} else {
				file = "[" + file + "](../specs/" + file + ")"
			}
			violated := r.Impact
			if r.Attack != "" {
				violated += " **Attacker:** " + r.Attack
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.ID, r.Level, cell(r.Title), cell(violated), r.Section, file)
		}
	}
	return b.String()
}

// ProfileTable is the Markdown table of profiles with their MUST and SHOULD
// counts (the README and the catalogue include it).
func ProfileTable() string {
	var b strings.Builder
	b.WriteString("| profile | what | needs | MUST | SHOULD |\n|---|---|---|---|---|\n")
	var must, should int
	for _, p := range ProfileInfos {
		m, s := countLevels(p.requirements)
		must, should = must+m, should+s
		fmt.Fprintf(&b, "| `%s` | %s | %s | %d | %d |\n", p.Name, cell(p.What), cell(p.Needs), m, s)
	}
	fmt.Fprintf(&b, "| **all** | | | %d | %d |\n", must, should)
	return b.String()
}

func countLevels(rs []Requirement) (must, should int) {
	for _, r := range rs {
		if r.Level == MUST {
			must++
		} else {
			should++
		}
	}
	return must, should
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
