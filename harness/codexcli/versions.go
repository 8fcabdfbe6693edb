package codexcli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
)

// Versions as data. The contract describes one pinned release (Version);
// any other published @openai/codex release can be installed into the same
// cache (scripts/install-codex.sh VERSION, or InstallVersion) and run by
// the suite, the oracle and `codexauth capture`. What a run reports is the
// version the binary itself prints (BinaryVersion), never the one asked for.

// versionPattern is an exact npm version of @openai/codex (no ranges, no
// dist-tags: the cache holds exact versions).
var versionPattern = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)

// ValidVersion reports whether v is an exact version such as 0.171.0.
func ValidVersion(v string) bool { return versionPattern.MatchString(v) }

// VersionDir is the cache folder of one version (as install-codex.sh lays
// it out).
func VersionDir(version string) string { return filepath.Join(CacheDir(), "codex-"+version) }

// FindVersion locates an installed codex version in the cache.
func FindVersion(version string) (string, error) {
	if !ValidVersion(version) {
		return "", fmt.Errorf("codex version %q: want an exact version such as %s", version, Version)
	}
	pattern := filepath.Join(VersionDir(version), "node_modules", "@openai", "*", "vendor", "*", "bin", "codex")
	if m, _ := filepath.Glob(pattern); len(m) > 0 {
		return m[0], nil
	}
	return "", fmt.Errorf("codex %s not found in %s: run scripts/install-codex.sh %s (or conform --codex-version %s installs it)",
		version, CacheDir(), version, version)
}

// FindOrInstall returns the cached binary of version, installing it first
// when it is missing.
func FindOrInstall(ctx context.Context, version string) (string, error) {
	if bin, err := FindVersion(version); err == nil {
		return bin, nil
	} else if !ValidVersion(version) {
		return "", err
	}
	return InstallVersion(ctx, version)
}

// InstallVersion installs @openai/codex@version into the cache with npm,
// exactly as scripts/install-codex.sh does (same folder, same lock), so a
// binary installed without the repository at hand is found by both.
func InstallVersion(ctx context.Context, version string) (string, error) {
	if !ValidVersion(version) {
		return "", fmt.Errorf("codex version %q: want an exact version such as %s", version, Version)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", fmt.Errorf("installing codex %s needs npm (Node.js 20+): %w", version, err)
	}
	cache := CacheDir()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("codex cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, ".install-codex-"+version+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("codex cache lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("codex cache lock: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if bin, err := FindVersion(version); err == nil {
		return bin, nil // installed meanwhile by another process
	}
	tmp, err := os.MkdirTemp(cache, "install-")
	if err != nil {
		return "", fmt.Errorf("codex cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"name":"codex-cache","private":true}`+"\n"), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "@openai/codex@"+version)
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm install @openai/codex@%s: %w\n%s", version, err, strings.TrimSpace(out.String()))
	}
	dir := VersionDir(version)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("codex cache: %w", err)
	}
	bin, err := FindVersion(version)
	if err != nil {
		return "", fmt.Errorf("installed @openai/codex@%s, but: %w", version, err)
	}
	got, err := BinaryVersion(ctx, bin)
	if err != nil {
		return "", err
	}
	if got != version {
		return "", fmt.Errorf("installed @openai/codex@%s, but %s reports %s", version, bin, got)
	}
	return bin, nil
}

var (
	binaryVersions sync.Map // path → version
	versionLine    = regexp.MustCompile(`codex(?:-cli)?\s+v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)`)
)

// BinaryVersion is the version a codex binary reports (`codex --version`
// prints "codex-cli 0.169.0"). It is asked once per path.
func BinaryVersion(ctx context.Context, bin string) (string, error) {
	if v, ok := binaryVersions.Load(bin); ok {
		return v.(string), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "NO_COLOR=1", "TERM=dumb"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	m := versionLine.FindSubmatch(bytes.TrimSpace(out))
	if m == nil {
		return "", fmt.Errorf("%s --version printed %q, not a codex version", bin, strings.TrimSpace(string(out)))
	}
	v := string(m[1])
	binaryVersions.Store(bin, v)
	return v, nil
}

// CompareVersions orders two versions numerically (wire.CompareVersions).
func CompareVersions(a, b string) int { return wire.CompareVersions(a, b) }
