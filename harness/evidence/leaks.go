package evidence

import (
	"regexp"
	"sort"
	"strings"
)

// tokenPattern splits text into the runs of characters secrets are made of
// (base64, base64url, hex, JWT dots, url-escapes).
var tokenPattern = regexp.MustCompile(`[A-Za-z0-9_\-.~]{8,}`)

// Leaks returns the secrets the masker met that appear unmasked in text,
// and any JWT left whole in it. Reports are checked with it before they are
// trusted to be shared.
func (m *Masker) Leaks(text string) []string {
	m.mu.Lock()
	secrets := make(map[string]string, len(m.secrets))
	for raw, fp := range m.secrets {
		secrets[raw] = fp
	}
	m.mu.Unlock()
	found := map[string]bool{}
	for _, tok := range tokenPattern.FindAllString(text, -1) {
		for _, cand := range []string{tok, strings.Trim(tok, ".~-")} {
			if fp, ok := secrets[cand]; ok {
				found[fp] = true
			}
		}
		if jwtPattern.MatchString(tok) {
			found["an unmasked JWT ("+tok[:min(len(tok), 16)]+"…)"] = true
		}
	}
	out := make([]string, 0, len(found))
	for f := range found {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}
