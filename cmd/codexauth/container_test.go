package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/internal/testutil"
)

// ImageEnv names the codexauth image the container tests run
// (scripts/test.sh builds it with scripts/image.sh and sets it).
const imageEnv = "CODEXAUTH_TEST_IMAGE"

// dockerImage is the engine and the image under test. Like the PostgreSQL
// tests, the container tests fail — never skip — when either is missing,
// and say how to provide them.
func dockerImage(t *testing.T) (*dockertest.Pool, string) {
	t.Helper()
	how := "run scripts/test.sh, or: eval \"$(scripts/docker-engine.sh start)\" && scripts/image.sh && " + imageEnv + "=codexauth:test go test ./cmd/codexauth"
	pool, err := dockertest.NewPool("")
	if err == nil {
		err = pool.Client.Ping()
	}
	if err != nil {
		t.Fatalf("the container tests need a Docker engine and none answers (%v): %s", err, how)
	}
	image := os.Getenv(imageEnv)
	if image == "" {
		t.Fatalf("the container tests need the codexauth image in %s: %s", imageEnv, how)
	}
	if _, err := pool.Client.InspectImage(image); err != nil {
		t.Fatalf("image %s: %v: %s", image, err, how)
	}
	return pool, image
}

// issuerContainer runs the image's default command (serve) with the
// volume at /data, reachable at url (host network on an engine without a
// bridge, else published on the loopback port of url).
func issuerContainer(t *testing.T, pool *dockertest.Pool, image, volume string, port int) *dockertest.Resource {
	t.Helper()
	network, err := harness.DockerNetwork(pool, "")
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	repo, tag, _ := strings.Cut(image, ":")
	opts := &dockertest.RunOptions{Repository: repo, Tag: tag,
		Env:    []string{"CODEXAUTH_PUBLIC_URL=" + url, "CODEXAUTH_ADMIN_TOKEN=" + replicaAdmin, "CODEXAUTH_DEVICE_INTERVAL=1"},
		Mounts: []string{volume + ":/data"}}
	if network == "host" {
		opts.Env = append(opts.Env, fmt.Sprintf("CODEXAUTH_ADDR=127.0.0.1:%d", port))
	} else {
		opts.PortBindings = map[docker.Port][]docker.PortBinding{"8765/tcp": {{HostIP: "127.0.0.1", HostPort: fmt.Sprint(port)}}}
	}
	res, err := pool.RunWithOptions(opts, func(hc *docker.HostConfig) {
		if network == "host" {
			hc.NetworkMode = "host"
		}
	})
	if err != nil {
		t.Fatalf("start %s: %v", image, err)
	}
	t.Cleanup(func() { _ = pool.Purge(res) })
	waitForIssuer(t, url, pool, res.Container.ID)
	return res
}

// waitForIssuer polls /healthz until it answers 200; a container that
// exits fails the test with its output.
func waitForIssuer(t *testing.T, url string, pool *dockertest.Pool, id string) {
	t.Helper()
	pool.MaxWait = time.Minute
	err := pool.Retry(func() error {
		if c, err := pool.Client.InspectContainer(id); err == nil && !c.State.Running {
			var out bytes.Buffer
			_ = pool.Client.Logs(docker.LogsOptions{Container: id, OutputStream: &out, ErrorStream: &out, Stdout: true, Stderr: true})
			t.Fatalf("the container exited (status %d):\n%s", c.State.ExitCode, out.String())
		}
		res, err := http.Get(url + "/healthz")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("/healthz answered %d", res.StatusCode)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the issuer at %s did not come up: %v", url, err)
	}
}

func kids(t *testing.T, url string) []string {
	t.Helper()
	ex := wire.NewClient(url, "").Get(context.Background(), "/.well-known/jwks.json", nil)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if ex.Err != nil || ex.Status != 200 || json.Unmarshal(ex.Body, &set) != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %s", ex)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func adminStatus(t *testing.T, url, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/__admin"+path, nil)
	req.Header.Set("Authorization", "Bearer "+replicaAdmin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestImageConfigMatchesDockerfile: the image scripts/image.sh built runs
// as ci/Dockerfile declares (user, working directory, environment, volume,
// port, health check, entrypoint, default command).
func TestImageConfigMatchesDockerfile(t *testing.T) {
	pool, image := dockerImage(t)
	img, err := pool.Client.InspectImage(image)
	if err != nil {
		t.Fatal(err)
	}
	want := ciDockerfile(t)
	c := img.Config
	var env []string
	for _, kv := range c.Env {
		if strings.HasPrefix(kv, "CODEXAUTH_") {
			env = append(env, kv)
		}
	}
	_, volume := c.Volumes[want.Volume]
	_, port := c.ExposedPorts[docker.Port(want.Expose+"/tcp")]
	_, healthCmd, _ := strings.Cut(want.Health, " CMD ")
	wantHealth := append([]string{"CMD"}, execForm(t, "HEALTHCHECK", healthCmd)...)
	if c.User != want.User || c.WorkingDir != want.Workdir || strings.Join(env, " ") != want.Env || !volume || !port ||
		!slices.Equal(c.Entrypoint, want.Entrypoint) || !slices.Equal(c.Cmd, want.Cmd) ||
		c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, wantHealth) {
		t.Fatalf("image %s: user %q workdir %q env %v volumes %v ports %v entrypoint %v cmd %v health %+v\nci/Dockerfile: %+v",
			image, c.User, c.WorkingDir, env, c.Volumes, c.ExposedPorts, c.Entrypoint, c.Cmd, c.Healthcheck, want)
	}
}

// TestImageKeepsStateOnItsVolume: a refresh token, a user added through
// the admin API and the signing key outlive the container when /data is a
// volume: a new container on the same volume honours them, and its health
// check (codexauth health inside the image) reports healthy. A container
// on a fresh volume does not know the token (the control).
func TestImageKeepsStateOnItsVolume(t *testing.T) {
	pool, image := dockerImage(t)
	ctx := context.Background()
	volume := "codexauth-test-" + wire.NewState()[:12]
	t.Cleanup(func() { _ = pool.Client.RemoveVolumeWithOptions(docker.RemoveVolumeOptions{Name: volume, Force: true}) })
	port, err := harness.FreeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	first := issuerContainer(t, pool, image, volume, port)
	rt := login(t, ctx, &proc{URL: url})
	keysBefore := kids(t, url)
	if err := harness.NewAdmin(url, replicaAdmin).PutUser(ctx, "carol", map[string]any{"plan_type": "pro"}); err != nil {
		t.Fatal(err)
	}
	if err := pool.Purge(first); err != nil {
		t.Fatal(err)
	}

	second := issuerContainer(t, pool, image, volume, port)
	ex := wire.NewClient(url, "").Refresh(ctx, rt, "proactive_expiry")
	if ex.Err != nil || ex.Status != 200 {
		t.Fatalf("a refresh token issued before the restart: %s", ex)
	}
	if after := kids(t, url); !slices.Contains(after, keysBefore[0]) {
		t.Fatalf("signing key %s lost across the restart (JWKS now %v)", keysBefore[0], after)
	}
	if code := adminStatus(t, url, "/users/carol"); code != 200 {
		t.Fatalf("user carol after the restart: %d", code)
	}
	pool.MaxWait = time.Minute
	if err := pool.Retry(func() error {
		c, err := pool.Client.InspectContainer(second.Container.ID)
		if err != nil {
			return err
		}
		if c.State.Health.Status != "healthy" {
			return fmt.Errorf("health %q: %+v", c.State.Health.Status, c.State.Health.Log)
		}
		return nil
	}); err != nil {
		t.Fatalf("the image's HEALTHCHECK: %v", err)
	}
	if err := pool.Purge(second); err != nil {
		t.Fatal(err)
	}

	fresh := "codexauth-test-" + wire.NewState()[:12]
	t.Cleanup(func() { _ = pool.Client.RemoveVolumeWithOptions(docker.RemoveVolumeOptions{Name: fresh, Force: true}) })
	issuerContainer(t, pool, image, fresh, port)
	_, rotated, _ := strings.Cut(string(ex.Body), `"refresh_token":"`)
	rotated, _, _ = strings.Cut(rotated, `"`)
	if ex := wire.NewClient(url, "").Refresh(ctx, rotated, "proactive_expiry"); ex.Status == 200 {
		t.Fatalf("a container on a fresh volume accepted the refresh token: %s", ex)
	}
}

// readmeCommand is the command of README.md that starts with prefix,
// continuation lines joined.
func readmeCommand(t *testing.T, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), prefix) {
			line, _, _ = strings.Cut(line, "#")
			return strings.Fields(line)
		}
	}
	t.Fatalf("README.md documents no command starting with %q", prefix)
	return nil
}

// TestImageAsREADMEDocumentsSignsInRealCodex: `docker run` exactly as
// README.md documents it (only the port, the container and volume names
// and the image tag made unique to this run) serves the real codex's
// `codex login --device-auth --experimental_issuer` in the README's form.
func TestImageAsREADMEDocumentsSignsInRealCodex(t *testing.T) {
	pool, image := dockerImage(t)
	codex, err := codexcli.Find("")
	if err != nil {
		t.Fatalf("this test drives the real codex: %v", err)
	}
	run := readmeCommand(t, "docker run ")
	login := readmeCommand(t, "CODEX_REVOKE_TOKEN_URL_OVERRIDE=")
	if want := []string{"CODEX_REVOKE_TOKEN_URL_OVERRIDE=http://127.0.0.1:8765/oauth/revoke", "codex", "login", "--device-auth", "--experimental_issuer", "http://127.0.0.1:8765"}; !slices.Equal(login, want) {
		t.Fatalf("README's codex login line %v is not the one this test runs (%v)", login, want)
	}
	port, err := harness.FreeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	suffix := wire.NewState()[:12]
	name, volume := "codexauth-readme-"+suffix, "codexauth-readme-"+suffix
	args := make([]string, 0, len(run))
	for i, a := range run[1:] { // drop "docker"
		switch {
		case a == "codexauth:test":
			a = image
		case i > 0 && run[i] == "--name":
			a = name
		case strings.HasPrefix(a, "codexauth-data:"):
			a = strings.Replace(a, "codexauth-data", volume, 1)
		default:
			a = strings.ReplaceAll(a, "8765", fmt.Sprint(port))
		}
		args = append(args, a)
	}
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", name).Run()
		_ = pool.Client.RemoveVolumeWithOptions(docker.RemoveVolumeOptions{Name: volume, Force: true})
	})
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	c, err := pool.Client.InspectContainer(name)
	if err != nil {
		t.Fatal(err)
	}
	waitForIssuer(t, url, pool, c.ID)

	guard, err := codexcli.StartGuard()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guard.Close() })
	d, err := codexcli.New(codex, url, t.TempDir(), guard.URL())
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.DeviceLogin(context.Background())
	if err != nil || res.ExitCode != 0 || !strings.Contains(res.Output(), "Successfully logged in") {
		t.Fatalf("codex login against the README's container: %v\n%s", err, res)
	}
	auth, err := d.ReadAuth()
	if err != nil || auth.Tokens == nil || auth.Tokens.OAuthProvenance == nil || auth.Tokens.OAuthProvenance.Issuer != url {
		t.Fatalf("auth.json after login: %+v (%v)", auth, err)
	}
	t.Logf("docker %s\n%s", strings.Join(args, " "), res)
	if refused := guard.Refused(); len(refused) > 0 {
		t.Fatalf("codex tried to leave the machine: %v", refused)
	}
}

// TestDockerImageWithoutEngine: with no engine, --docker-image says so
// and exits 3 (could not run), never pretending the suite passed.
func TestDockerImageWithoutEngine(t *testing.T) {
	cmd := exec.Command(bin, "conform", "--docker-image", "codexauth:test", "--no-codex", "--out", t.TempDir())
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(t.TempDir(), "no-engine.sock"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "none answers") {
		t.Fatalf("exit %v, want 3 with \"none answers\":\n%s", err, out)
	}
}
