package foreignissuer

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Variant is one deployment the suite is proved on: a conformant one must
// pass (no false alarms), a defective one must fail with RootCauses named
// first.
type Variant struct {
	Name       string
	Options    Options
	Conformant bool
	// RootCauses are the requirement ids the suite must name first.
	RootCauses []string
}

// Variants are the conformant and the defective deployments (issue 10).
var Variants = []Variant{
	{Name: "baseline", Options: Options{}, Conformant: true},
	{Name: "grace-2s", Options: Options{GraceWindow: 2 * time.Second}, Conformant: true},
	{Name: "split-layout", Options: Options{SplitLayout: true}, Conformant: true},
	{Name: "extra-fields", Options: Options{ExtraFields: true}, Conformant: true},
	{Name: "split-layout-grace-2s", Options: Options{SplitLayout: true, GraceWindow: 2 * time.Second}, Conformant: true},
	{Name: "extra-fields-grace-2s", Options: Options{ExtraFields: true, GraceWindow: 2 * time.Second}, Conformant: true},
	{Name: "everything", Options: Options{SplitLayout: true, ExtraFields: true, GraceWindow: 2 * time.Second}, Conformant: true},

	{Name: "refresh-form-only-one-code", Options: Options{RefreshFormOnlyOneCode: true}, RootCauses: []string{"CDX-REFRESH-001"}},
	{Name: "same-second-tokens", Options: Options{SameSecondTokens: true}, RootCauses: []string{"CDX-DEVICE-017"}},
	{Name: "any-client-id", Options: Options{AnyClientID: true}, RootCauses: []string{"CDX-BROWSER-014"}},
	{Name: "task-register-404", Options: Options{TaskRegister404: true}, RootCauses: []string{"CDX-AGENT-009"}},
}

// ConformArgs are the `codexauth conform` flags a user would give for
// this deployment. It writes two agent identities of two different agents
// of alice and her personal access token into dir (a directory of its own
// per issuer: the file names are fixed).
func (iss *Issuer) ConformArgs(dir string) ([]string, error) {
	args := []string{"--issuer", iss.URL, "--approver", "auto",
		"--internal-secret", iss.InternalSecret, "--validate-url", iss.ValidateURL()}
	write := func(name, content string) (string, error) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("foreign issuer: %w", err)
		}
		return path, nil
	}
	for i := 1; i <= 2; i++ {
		jwt, err := iss.MintAgentIdentity(alice.name)
		if err != nil {
			return nil, err
		}
		path, err := write(fmt.Sprintf("agent-identity-%d.jwt", i), jwt)
		if err != nil {
			return nil, err
		}
		args = append(args, "--agent-identity", path)
	}
	path, err := write("personal-access-token", iss.pat)
	if err != nil {
		return nil, err
	}
	args = append(args, "--personal-access-token", path)
	if iss.opts.SplitLayout {
		args = append(args, "--authapi-base-url", iss.AuthAPIBaseURL(), "--chatgpt-base-url", iss.ChatGPTBaseURL(),
			"--refresh-url", iss.RefreshURL(), "--revoke-url", iss.RevokeURL())
	}
	return args, nil
}
