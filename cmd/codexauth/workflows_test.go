package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/internal/testutil"
)

type workflow struct {
	Jobs map[string]struct {
		Strategy struct {
			Matrix map[string]any `json:"matrix"`
		} `json:"strategy"`
		Steps []struct {
			Name string            `json:"name"`
			Uses string            `json:"uses"`
			Run  string            `json:"run"`
			With map[string]any    `json:"with"`
			Env  map[string]string `json:"env"`
		} `json:"steps"`
	} `json:"jobs"`
}

// TestCIWorkflowsRunWhatTheTestsRun: the users' workflows in ci/github
// install this module's cmd/codexauth with the Go version of go.mod and
// the codex version the suite pins (found the way scripts/install-codex.sh
// finds it) — a job with a matrix over codex versions includes the pinned
// one — and their `codexauth conform` steps, run word for word by
// bash against a conformant reference issuer (the workflow's issuer URL
// and secrets pointed at it, its approver script a `codexauth approve`),
// end CONFORMANT.
func TestCIWorkflowsRunWhatTheTestsRun(t *testing.T) {
	root := testutil.RepoRoot()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module (\S+)`).FindSubmatch(gomod)[1]
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)[1]
	installer, err := os.ReadFile(filepath.Join(root, "scripts", "install-codex.sh"))
	if err != nil {
		t.Fatal(err)
	}
	codex, err := codexcli.Find("")
	if err != nil {
		t.Fatalf("the workflows run the real codex: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "ci", "github", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no workflows in ci/github")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var wf workflow
			if err := yaml.Unmarshal(b, &wf); err != nil {
				t.Fatal(err)
			}
			conforms := 0
			for _, job := range wf.Jobs {
				for _, step := range job.Steps {
					if strings.HasPrefix(step.Uses, "actions/setup-go@") && step.With["go-version"] != string(goVersion) {
						t.Errorf("setup-go installs Go %v, go.mod says %s", step.With["go-version"], goVersion)
					}
					for _, m := range regexp.MustCompile(`go install (\S+)@`).FindAllStringSubmatch(step.Run, -1) {
						if m[1] != string(module)+"/cmd/codexauth" {
							t.Errorf("go install %s: not this module's cmd/codexauth (%s/cmd/codexauth)", m[1], module)
						}
					}
					for _, m := range regexp.MustCompile(`@openai/codex@(\$\{\{[^}]*\}\}|[^\s"]+)`).FindAllStringSubmatch(step.Run, -1) {
						installs := []string{m[1]}
						if v := regexp.MustCompile(`^\$\{\{ *matrix\.(\w+) *\}\}$`).FindStringSubmatch(m[1]); v != nil {
							installs = nil
							values, _ := job.Strategy.Matrix[v[1]].([]any)
							for _, x := range values {
								installs = append(installs, fmt.Sprint(x))
							}
						}
						if !slices.Contains(installs, codexcli.Version) {
							t.Errorf("the workflow installs codex %v, not the %s the suite pins", installs, codexcli.Version)
						}
						pattern := regexp.MustCompile(`-path '[^']+'`).FindString(step.Run)
						if pattern == "" || !strings.Contains(string(installer), pattern) {
							t.Errorf("the workflow finds the codex binary with %q, scripts/install-codex.sh otherwise", pattern)
						}
					}
					if strings.Contains(step.Run, "codexauth conform") {
						conforms++
						runConformStep(t, step.Run, step.Env, codex)
					}
				}
			}
			if conforms == 0 {
				t.Fatal("the workflow runs no codexauth conform step")
			}
		})
	}
}

// runConformStep runs a workflow's `run:` script with bash in a folder
// holding the files it names, `codexauth` on PATH, and a conformant
// reference issuer where the workflow expects the issuer under test.
func runConformStep(t *testing.T, script string, env map[string]string, codex string) {
	t.Helper()
	const secret = "workflow-validate-secret-0123"
	issuer := serve(t, "--admin-token", admin, "--internal-secret", secret, "--device-interval", "1")
	dir := t.TempDir()
	approver := "#!/bin/sh\nexec codexauth approve --issuer " + issuer + " --admin-token " + admin + "\n"
	for _, f := range regexp.MustCompile(`--approver-command (\S+)`).FindAllStringSubmatch(script, -1) {
		path := filepath.Join(dir, f[1])
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(approver), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range regexp.MustCompile(`--waivers (\S+)`).FindAllStringSubmatch(script, -1) {
		if err := os.WriteFile(filepath.Join(dir, f[1]), []byte("waivers: []\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The gate workflow's own issuer listens on 127.0.0.1:8080.
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", issuer)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "CODEXAUTH_CODEX_BIN="+codex)
	for k, v := range env {
		if strings.Contains(v, "${{") {
			switch k {
			case "CODEXAUTH_ISSUER":
				v = issuer
			case "CODEXAUTH_INTERNAL_SECRET":
				v = secret
			default:
				t.Fatalf("the test does not know what to give %s (%s)", k, v)
			}
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verdict: CONFORMANT") {
		t.Fatalf("%s\n%v\n%s", script, err, out)
	}
	t.Logf("%s\n%s", script, out[strings.LastIndex(string(out), "profile "):])
}
