package main_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/internal/testutil"
)

// gzipEverything puts a proxy in front of a reference issuer that
// gzip-compresses every answer, asked for or not (as some proxies and CDNs
// do), and returns the proxy's URL, which is the issuer's public URL.
func gzipEverything(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + ln.Addr().String()
	addr := freePort(t)
	startServe(t, addr, "--store", "memory", "--admin-token", admin, "--device-interval", "1", "--public-url", public)
	upstream, _ := url.Parse("http://" + addr)
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	proxy.ModifyResponse = func(r *http.Response) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(b)
		w.Close()
		r.Body = io.NopCloser(&z)
		r.Header.Set("Content-Encoding", "gzip")
		r.Header.Set("Content-Length", strconv.Itoa(z.Len()))
		r.ContentLength = int64(z.Len())
		return nil
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Accept-Encoding") // the upstream answers plainly; the proxy compresses
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return public
}

// TestTheSuiteExpectsWhatTheCodexItSpeaksForReads: an issuer whose answers
// are gzip-compressed unasked breaks codex 0.166.0–0.169.1 (they send no
// Accept-Encoding and cannot read it) and not 0.171.0 (which asks for zstd
// and gzip). Speaking as each, the suite says so: CDX-ENC-001 fails for the
// pinned 0.169.0 and the core profile passes for 0.171.0.
func TestTheSuiteExpectsWhatTheCodexItSpeaksForReads(t *testing.T) {
	issuer := gzipEverything(t)
	for _, c := range []struct {
		version string
		code    int
	}{{codexcli.Version, 1}, {"0.171.0", 0}} {
		code, out := runCLI(t, "conform", "--issuer", issuer, "--admin-token", admin, "--profile", "core", "--no-codex",
			"--codex-version", c.version, "--out", t.TempDir())
		if code != c.code {
			t.Fatalf("speaking as codex %s: exit %d, want %d\n%s", c.version, code, c.code, out)
		}
		if !strings.Contains(out, "codex: speaking as "+c.version) {
			t.Errorf("the console does not say which codex the run speaks for:\n%s", out)
		}
		failed := strings.Contains(out, "FAIL CDX-ENC-001")
		if failed != (c.code == 1) {
			t.Errorf("speaking as codex %s: CDX-ENC-001 failed=%v\n%s", c.version, failed, out)
		}
		if c.code == 1 && !strings.Contains(out, "Content-Encoding gzip, which the codex spoken for did not ask for") {
			t.Errorf("the failure does not say why:\n%s", out)
		}
	}
}

// TestCaptureOfThePinnedCodexMatchesItsGolden: `codexauth capture` of the
// pinned codex reproduces fixtures/golden/capture-codex-PINNED.txt — no
// protocol drift — so the kept captures are what codex sends, and drift
// reported against them is real.
func TestCaptureOfThePinnedCodexMatchesItsGolden(t *testing.T) {
	codex, err := codexcli.Find("")
	if err != nil {
		t.Fatalf("the capture runs the real codex: %v", err)
	}
	golden := filepath.Join(testutil.RepoRoot(), "fixtures", "golden", "capture-codex-"+codexcli.Version+".txt")
	out := filepath.Join(t.TempDir(), "capture.txt")
	code, log := runCLI(t, "capture", "--codex-bin", codex, "--out", out, "--against", golden, "--fail-on-drift")
	if code != 0 || !strings.Contains(log, "protocol drift "+codexcli.Version+" → "+codexcli.Version+": none") {
		t.Fatalf("capture: exit %d\n%s", code, log)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte("### 08_app_server_login")) || bytes.Contains(b, []byte("eyJ")) {
		t.Fatalf("capture file: %v\n%s", err, b)
	}
}

// TestVersionFlagsTakeExactVersions: a dist-tag or a typo is a usage error
// (exit 2) that says what is wanted, before anything is installed.
func TestVersionFlagsTakeExactVersions(t *testing.T) {
	for _, args := range [][]string{
		{"selftest", "--codex-versions", "0.169.0,latest"},
		{"conform", "--codex-version", "0.171", "--no-codex"},
		{"capture", "--codex-version", "latest"},
	} {
		code, out := runCLI(t, args...)
		if code != 2 || !strings.Contains(out, "exact version") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
}
