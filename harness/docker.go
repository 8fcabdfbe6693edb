package harness

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

// DockerTarget describes an issuer image to start for a run.
//
// The container gets, besides Env, the settings of the codexauth image
// (any image that reads the same variables needs no flags; others ignore
// them): CODEXAUTH_ADDR={{addr}}, CODEXAUTH_PUBLIC_URL={{issuer}},
// CODEXAUTH_ADMIN_TOKEN and CODEXAUTH_INTERNAL_SECRET (the run's
// --admin-token/--internal-secret, else random values used only when the
// container's admin API answers to them), CODEXAUTH_DEVICE_INTERVAL=1 and
// CODEXAUTH_REUSE_GRACE=10s (as the built-in target). Env wins over them.
type DockerTarget struct {
	Image string
	// Port is the container port the issuer listens on (default 8765/tcp).
	Port string
	// Env and Cmd may contain {{issuer}} (the URL the harness reaches the
	// container at, which the issuer needs as its public URL), {{addr}}
	// (the host:port the issuer must listen on inside the container) and
	// {{port}} (that port alone).
	Env, Cmd []string
	// Path is appended to the URL when the issuer lives under a prefix.
	Path string
	// Network is "bridge" (publish Port on a free loopback port), "host"
	// (share the host's network; the issuer listens on 127.0.0.1 and a free
	// port, given through {{addr}}/{{port}}), or "" for bridge when the
	// engine has a bridge network, else host (an engine started with
	// --bridge=none, as scripts/docker-engine.sh does).
	Network string
}

// dockerEnvDefaults are the codexauth image's settings for a run (see
// DockerTarget).
func dockerEnvDefaults(adminToken, secret string) []string {
	return []string{"CODEXAUTH_ADDR={{addr}}", "CODEXAUTH_PUBLIC_URL={{issuer}}",
		"CODEXAUTH_ADMIN_TOKEN=" + adminToken, "CODEXAUTH_INTERNAL_SECRET=" + secret,
		"CODEXAUTH_DEVICE_INTERVAL=1", "CODEXAUTH_REUSE_GRACE=10s"}
}

// mergeEnv appends defaults whose key env does not set.
func mergeEnv(env, defaults []string) []string {
	out := append([]string(nil), env...)
	set := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	for _, kv := range defaults {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	return out
}

// DockerNetwork is the network mode startDocker uses on pool's engine for
// the requested mode ("" picks: bridge when the engine has one, else host).
func DockerNetwork(pool *dockertest.Pool, requested string) (string, error) {
	switch requested {
	case "host", "bridge":
		return requested, nil
	case "":
	default:
		return "", fmt.Errorf("docker network %q: use host or bridge", requested)
	}
	nets, err := pool.Client.ListNetworks()
	if err != nil {
		return "", fmt.Errorf("list the engine's networks: %w", err)
	}
	for _, n := range nets {
		if n.Name == "bridge" {
			return "bridge", nil
		}
	}
	return "host", nil
}

// FreeLoopbackPort is a TCP port free on 127.0.0.1 right now.
func FreeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startDocker runs the image through dockertest, reachable on a loopback
// port, and waits until its discovery document answers. Without a Docker
// engine it fails with a message that says so.
func (t *Target) startDocker(ctx context.Context, d DockerTarget) error {
	pool, err := dockertest.NewPool("")
	if err == nil {
		err = pool.Client.Ping()
	}
	if err != nil {
		return &RuntimeError{fmt.Errorf("--docker-image needs a Docker engine and none answers (%v); start the issuer yourself and pass --issuer URL", err)}
	}
	network, err := DockerNetwork(pool, d.Network)
	if err != nil {
		return &RuntimeError{err}
	}
	hostPort, err := FreeLoopbackPort()
	if err != nil {
		return &RuntimeError{err}
	}
	port := d.Port
	if port == "" {
		port = "8765/tcp"
	}
	if !strings.Contains(port, "/") {
		port += "/tcp"
	}
	listenPort, _, _ := strings.Cut(port, "/")
	listenAddr := "0.0.0.0:" + listenPort
	if network == "host" {
		listenPort = fmt.Sprint(hostPort)
		listenAddr = "127.0.0.1:" + listenPort // the host network: stay on loopback
	}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", hostPort, strings.TrimRight(d.Path, "/"))
	sub := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = strings.NewReplacer("{{issuer}}", url, "{{addr}}", listenAddr, "{{port}}", listenPort).Replace(s)
		}
		return out
	}
	adminToken, secret := t.Cfg.AdminToken, t.Cfg.InternalSecret
	generated := adminToken == ""
	if generated {
		adminToken = "docker-admin-" + wire.NewState()
	}
	if secret == "" {
		secret = "docker-secret-" + wire.NewState()
	}
	repo, tag, _ := strings.Cut(d.Image, ":")
	if tag == "" {
		tag = "latest"
	}
	opts := &dockertest.RunOptions{Repository: repo, Tag: tag, Env: sub(mergeEnv(d.Env, dockerEnvDefaults(adminToken, secret))), Cmd: sub(d.Cmd)}
	if network == "bridge" {
		opts.ExposedPorts = []string{port}
		opts.PortBindings = map[docker.Port][]docker.PortBinding{docker.Port(port): {{HostIP: "127.0.0.1", HostPort: fmt.Sprint(hostPort)}}}
	}
	res, err := pool.RunWithOptions(opts, func(hc *docker.HostConfig) {
		if network == "host" {
			hc.NetworkMode = "host"
		}
	})
	if err != nil {
		return &RuntimeError{fmt.Errorf("start %s: %w", d.Image, err)}
	}
	if err := waitForDiscovery(ctx, pool, res.Container.ID, url, 60*time.Second); err != nil {
		logs := containerLogs(pool, res.Container.ID)
		_ = pool.Purge(res)
		return &RuntimeError{fmt.Errorf("%s did not come up at %s (%s network): %w\n%s", d.Image, url, network, err, logs)}
	}
	t.Issuer, t.Name = url, DockerImagePrefix+d.Image
	t.close = func() { _ = pool.Purge(res) }
	// The codexauth image took the admin token and secret: use them as the
	// built-in target does. Another image is tested by URL alone.
	if generated && probeAdmin(ctx, url, adminToken) {
		t.Cfg.AdminToken = adminToken
		if t.Cfg.ValidateURL == "" {
			t.Cfg.ValidateURL, t.Cfg.InternalSecret = url+"/internal/codex-auth/validate", secret
		}
	}
	return nil
}

// probeAdmin reports whether the issuer at url has an admin API that
// accepts token.
func probeAdmin(ctx context.Context, url, token string) bool {
	_, err := NewAdmin(url, token).State(ctx)
	return err == nil
}

// waitForDiscovery polls the discovery document until it answers 200,
// the container exits, or limit passes.
func waitForDiscovery(ctx context.Context, pool *dockertest.Pool, id, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		if c, err := pool.Client.InspectContainerWithContext(id, ctx); err == nil && !c.State.Running {
			return fmt.Errorf("the container exited with status %d", c.State.ExitCode)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/.well-known/openid-configuration", nil)
		if res, err := http.DefaultClient.Do(req); err != nil {
			last = err
		} else {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("discovery answered %d", res.StatusCode)
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// containerLogs is the tail of a container's output, for error messages.
func containerLogs(pool *dockertest.Pool, id string) string {
	var out bytes.Buffer
	_ = pool.Client.Logs(docker.LogsOptions{Container: id, OutputStream: &out, ErrorStream: &out, Stdout: true, Stderr: true, Tail: "30"})
	if out.Len() == 0 {
		return "(no container output)"
	}
	return "container output:\n" + out.String()
}

// DockerImagePrefix starts the implementation name of a docker image
// target in reports ("docker image codexauth:test"), which --rerun reads.
const DockerImagePrefix = "docker image "
