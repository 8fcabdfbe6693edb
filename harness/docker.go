package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

// DockerTarget describes an issuer image to start for a run.
type DockerTarget struct {
	Image string
	// Port is the container port the issuer listens on (default 8765/tcp).
	Port string
	// Env and Cmd may contain {{issuer}}, replaced by the URL the harness
	// will reach the container at (the issuer needs it as its public URL).
	Env, Cmd []string
	// Path is appended to the URL when the issuer lives under a prefix.
	Path string
}

// startDocker runs the image through dockertest, bound to a free loopback
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hostPort := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	url := "http://127.0.0.1:" + hostPort + strings.TrimRight(d.Path, "/")
	sub := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = strings.ReplaceAll(s, "{{issuer}}", url)
		}
		return out
	}
	port := d.Port
	if port == "" {
		port = "8765/tcp"
	}
	if !strings.Contains(port, "/") {
		port += "/tcp"
	}
	repo, tag, _ := strings.Cut(d.Image, ":")
	if tag == "" {
		tag = "latest"
	}
	res, err := pool.RunWithOptions(&dockertest.RunOptions{Repository: repo, Tag: tag, Env: sub(d.Env), Cmd: sub(d.Cmd),
		ExposedPorts: []string{port},
		PortBindings: map[docker.Port][]docker.PortBinding{docker.Port(port): {{HostIP: "127.0.0.1", HostPort: hostPort}}}},
		func(hc *docker.HostConfig) { hc.AutoRemove = true })
	if err != nil {
		return fmt.Errorf("start %s: %w", d.Image, err)
	}
	pool.MaxWait = 60 * time.Second
	if err := pool.Retry(func() error {
		res, err := http.Get(url + "/.well-known/openid-configuration")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("discovery answered %d", res.StatusCode)
		}
		return nil
	}); err != nil {
		_ = pool.Purge(res)
		return fmt.Errorf("%s did not come up at %s: %w", d.Image, url, err)
	}
	t.Issuer, t.Name = url, "docker image "+d.Image
	t.close = func() { _ = pool.Purge(res) }
	return nil
}
