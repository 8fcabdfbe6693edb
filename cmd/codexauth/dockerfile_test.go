package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/internal/testutil"
)

// finalStage is what a Dockerfile's last stage declares about the image.
type finalStage struct {
	From                                       string
	User, Workdir, Env, Volume, Expose, Health string
	Entrypoint, Cmd                            []string
	// Copies are the COPY destinations in order, each with its --chown.
	Copies []string
}

// parseFinalStage reads the last stage of a Dockerfile (continuations
// joined, comments dropped).
func parseFinalStage(t *testing.T, text string) finalStage {
	t.Helper()
	text = regexp.MustCompile(`\\\n\s*`).ReplaceAllString(text, " ")
	var st finalStage
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(op) {
		case "FROM":
			st = finalStage{From: rest}
		case "USER":
			st.User = rest
		case "WORKDIR":
			st.Workdir = rest
		case "ENV":
			st.Env = rest
		case "VOLUME":
			st.Volume = rest
		case "EXPOSE":
			st.Expose = rest
		case "HEALTHCHECK":
			st.Health = rest
		case "ENTRYPOINT":
			st.Entrypoint = execForm(t, line, rest)
		case "CMD":
			st.Cmd = execForm(t, line, rest)
		case "COPY":
			var chown string
			var args []string
			for _, f := range strings.Fields(rest) {
				switch {
				case strings.HasPrefix(f, "--chown="):
					chown = f
				case strings.HasPrefix(f, "--"):
				default:
					args = append(args, f)
				}
			}
			st.Copies = append(st.Copies, strings.TrimSpace(chown+" "+args[len(args)-1]))
		}
	}
	return st
}

func execForm(t *testing.T, line, rest string) []string {
	var v []string
	if err := json.Unmarshal([]byte(rest), &v); err != nil {
		t.Fatalf("%q: use the exec (JSON) form: %v", line, err)
	}
	return v
}

// imageScriptDockerfile is the Dockerfile scripts/image.sh writes.
func imageScriptDockerfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "scripts", "image.sh"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "<<'DOCKERFILE'\n")
	body, _, ok2 := strings.Cut(after, "\nDOCKERFILE\n")
	if !ok || !ok2 {
		t.Fatal("scripts/image.sh has no <<'DOCKERFILE' … DOCKERFILE here-document")
	}
	return body
}

func ciDockerfile(t *testing.T) finalStage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "ci", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return parseFinalStage(t, string(b))
}

// TestImageRecipesAgree: the users' multi-stage ci/Dockerfile and the
// registry-free scripts/image.sh produce the same image: FROM scratch,
// the same user, working directory, environment, volume, port, health
// check, entrypoint, default command and file destinations; the user
// exists in the image's /etc/passwd, the entrypoint and the health check
// are the copied binary, the SQLite store lives on the volume and the
// listen port is the exposed one.
func TestImageRecipesAgree(t *testing.T) {
	ci := ciDockerfile(t)
	sh := parseFinalStage(t, imageScriptDockerfile(t))
	a, _ := json.MarshalIndent(ci, "", "  ")
	b, _ := json.MarshalIndent(sh, "", "  ")
	if string(a) != string(b) {
		t.Fatalf("ci/Dockerfile and scripts/image.sh disagree:\nci/Dockerfile:\n%s\nscripts/image.sh:\n%s", a, b)
	}
	if ci.From != "scratch" {
		t.Errorf("final stage FROM %s, want scratch", ci.From)
	}
	uid, _, _ := strings.Cut(ci.User, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q: the image must not run as root", ci.User)
	}
	passwd, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "ci", "rootfs", "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^[a-z_][a-z0-9_-]*:x:` + regexp.QuoteMeta(uid) + `:[0-9]+:[^:]*:` + regexp.QuoteMeta(ci.Volume) + `:`).Match(passwd) {
		t.Errorf("ci/rootfs/etc/passwd has no user %s with home %s:\n%s", uid, ci.Volume, passwd)
	}
	if len(ci.Entrypoint) != 1 || !slices.Contains(ci.Copies, ci.Entrypoint[0]) {
		t.Errorf("ENTRYPOINT %v is not a copied file (%v)", ci.Entrypoint, ci.Copies)
	}
	if !strings.Contains(ci.Health, `["`+ci.Entrypoint[0]+`", "health"]`) {
		t.Errorf("HEALTHCHECK %q does not run %s health", ci.Health, ci.Entrypoint[0])
	}
	if !slices.Contains(ci.Copies, "--chown="+ci.User+" "+ci.Volume) || ci.Workdir != ci.Volume {
		t.Errorf("VOLUME %s must be created owned by %s and be the working directory (copies %v, WORKDIR %s)", ci.Volume, ci.User, ci.Copies, ci.Workdir)
	}
	if !strings.Contains(ci.Env, "CODEXAUTH_STORE=sqlite:"+ci.Volume+"/") {
		t.Errorf("ENV %q: the SQLite store must live on the volume %s", ci.Env, ci.Volume)
	}
	if !strings.Contains(ci.Env, "CODEXAUTH_ADDR=0.0.0.0:"+ci.Expose+" ") && !strings.HasSuffix(ci.Env, "CODEXAUTH_ADDR=0.0.0.0:"+ci.Expose) {
		t.Errorf("ENV %q does not listen on the exposed port %s", ci.Env, ci.Expose)
	}
	if !slices.Equal(ci.Cmd, []string{"serve"}) {
		t.Errorf("CMD %v, want [serve]", ci.Cmd)
	}
}
