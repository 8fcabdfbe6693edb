package storetest

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

// PostgresImageEnv names the PostgreSQL image the Docker fallback starts
// (default postgres:15). scripts/pg-image.sh builds one from the
// machine's own PostgreSQL binaries where no registry is reachable.
const PostgresImageEnv = "CODEXAUTH_TEST_POSTGRES_IMAGE"

// postgresRunOptions starts the image on the engine's bridge, published on
// a loopback port; on an engine without one (dockerd --bridge=none, as
// scripts/docker-engine.sh runs it) on the host network, listening on
// 127.0.0.1 and a free port. hostPort is "" when dockertest picks it.
func postgresRunOptions(pool *dockertest.Pool) (opts *dockertest.RunOptions, hostNet bool, hostPort string, err error) {
	image := os.Getenv(PostgresImageEnv)
	if image == "" {
		image = "postgres:15"
	}
	repo, tag, _ := strings.Cut(image, ":")
	if tag == "" {
		tag = "latest"
	}
	opts = &dockertest.RunOptions{Repository: repo, Tag: tag,
		Env: []string{"POSTGRES_PASSWORD=codexauth", "POSTGRES_HOST_AUTH_METHOD=trust"},
		Cmd: []string{"postgres", "-c", "listen_addresses=*", "-c", "max_connections=200"}}
	nets, err := pool.Client.ListNetworks()
	if err != nil {
		return nil, false, "", fmt.Errorf("list the engine's networks: %w", err)
	}
	for _, n := range nets {
		if n.Name == "bridge" {
			return opts, false, "", nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, false, "", err
	}
	hostPort = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	opts.Cmd = []string{"postgres", "-p", hostPort, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	return opts, true, hostPort, nil
}

// hostNetwork puts the container on the host network.
func hostNetwork(on bool) func(*docker.HostConfig) {
	return func(hc *docker.HostConfig) {
		hc.AutoRemove = true
		if on {
			hc.NetworkMode = "host"
		}
	}
}
