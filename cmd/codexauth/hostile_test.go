package main_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/internal/hostileissuer"
)

// hostileExpect is how a run against each behaviour must end: the exit
// codes it may end with, and words of its output or report that name what
// went wrong. A run that reaches --timeout ends as failed or, when the specs
// that would have found the root cause had not run yet (Ginkgo shuffles the
// flows), as incomplete.
var hostileExpect = map[string]struct {
	exit  []int
	names []string
}{
	hostileissuer.NeverAnswers:         {[]int{report.ExitRuntime}, []string{"unreachable", "exceeded"}},
	hostileissuer.SilentAfterDiscovery: {[]int{report.ExitFailed, report.ExitIncomplete}, []string{"Client.Timeout exceeded while awaiting headers"}},
	hostileissuer.HugeBody:             {[]int{report.ExitFailed}, []string{"response body exceeds 1048576 bytes"}},
	hostileissuer.EndlessChunked:       {[]int{report.ExitFailed}, []string{"response body exceeds 1048576 bytes"}},
	hostileissuer.SlowBody:             {[]int{report.ExitFailed, report.ExitIncomplete}, []string{"while reading body"}},
	hostileissuer.EndlessHeaders:       {[]int{report.ExitFailed}, []string{"server response headers exceeded 1048576 bytes"}},
	hostileissuer.RedirectLoop:         {[]int{report.ExitFailed}, []string{"→ 302"}},
	hostileissuer.InvalidUTF8:          {[]int{report.ExitFailed}, []string{"no usable RSA key", "is not in the JWKS"}},
	hostileissuer.DeepJSON:             {[]int{report.ExitFailed}, []string{"exceeded max depth"}},
	hostileissuer.ManyKeys:             {[]int{report.ExitFailed}, []string{"→ 404", "usable keys; 1936 more keys not examined"}},
}

// maxConformRSS is the memory a conform run may take against any issuer
// (measured as the child's peak resident set, getrusage ru_maxrss = VmHWM).
const maxConformRSS = 200 << 20

// TestConformSurvivesHostileIssuer points `codexauth conform` at an issuer
// that attacks its client (internal/hostileissuer), one behaviour at a time.
// Each run must end by itself — as a named failure, or exit 3 when even
// discovery never answers — within --timeout, with its peak RSS under 200
// MiB and its three report files written.
func TestConformSurvivesHostileIssuer(t *testing.T) {
	const timeout, requestTimeout = 12 * time.Second, 2 * time.Second
	type result struct {
		behaviour string
		took      time.Duration
		rssKiB    int64
	}
	var mu sync.Mutex
	var results []result
	sem := make(chan struct{}, 3) // a few at a time: the machine is shared
	for _, b := range hostileissuer.Behaviours() {
		want, ok := hostileExpect[b]
		if !ok {
			t.Fatalf("behaviour %q has no expectation", b)
		}
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			srv, err := hostileissuer.Start(b)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			out := t.TempDir()
			cmd := exec.Command(bin, "conform", "--issuer", srv.URL, "--no-codex", "--out", out,
				"--timeout", timeout.String(), "--request-timeout", requestTimeout.String())
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(timeout + time.Minute):
				// A hang guard, not a timing assertion: --timeout must end
				// the run long before this.
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("conform hung against %s (killed after %s)\n%s", b, time.Since(start), tail(stdout.String(), 40))
			}
			took := time.Since(start)
			code := cmd.ProcessState.ExitCode()
			// --timeout is a promise about behaviour: the run stops itself then
			// and only writes its reports (half a minute of slack for a busy machine).
			if took > timeout+30*time.Second {
				t.Errorf("conform against %s took %s: --timeout %s did not end it", b, took.Round(time.Second), timeout)
			}
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux: the peak, VmHWM
			mu.Lock()
			results = append(results, result{b, took, rss})
			mu.Unlock()
			yamlReport, _ := os.ReadFile(filepath.Join(out, "conformance.yaml"))
			all := stdout.String() + stderr.String() + string(yamlReport)
			// JUnit carries the specs' captured notes (and, for a spec that
			// --timeout interrupted, Ginkgo's goroutine dump: not a panic).
			junit, _ := os.ReadFile(filepath.Join(out, "junit.xml"))
			t.Logf("%s: exit %d after %s, peak RSS %d MiB", b, code, took.Round(100*time.Millisecond), rss>>10)
			if !slices.Contains(want.exit, code) {
				t.Errorf("exit %d, want one of %v\n%s", code, want.exit, tail(stdout.String()+stderr.String(), 80))
			}
			if rss<<10 >= maxConformRSS {
				t.Errorf("peak RSS %d MiB, limit %d MiB", rss>>10, maxConformRSS>>20)
			}
			for _, name := range want.names {
				if !strings.Contains(all, name) && !strings.Contains(string(junit), name) {
					t.Errorf("the output does not name %q\n%s", name, tail(all, 60))
				}
			}
			if strings.Contains(all, "panic:") || strings.Contains(all, "goroutine ") {
				t.Errorf("conform panicked:\n%s", tail(all, 60))
			}
			if code == report.ExitRuntime {
				return // nothing ran: there is nothing to report
			}
			// Written, and well-formed whatever the issuer sent (invalid UTF-8
			// included).
			for f, parse := range map[string]func([]byte) error{
				"conformance.yaml": func(b []byte) error { var v any; return yaml.Unmarshal(b, &v) },
				"ginkgo.json":      func(b []byte) error { var v any; return json.Unmarshal(b, &v) },
				"junit.xml": func(b []byte) error {
					for d := xml.NewDecoder(bytes.NewReader(b)); ; {
						if _, err := d.Token(); err == io.EOF {
							return nil
						} else if err != nil {
							return err
						}
					}
				},
			} {
				b, err := os.ReadFile(filepath.Join(out, f))
				if err == nil && len(b) == 0 {
					err = errors.New("empty")
				}
				if err == nil {
					err = parse(b)
				}
				if err != nil {
					t.Errorf("report %s: %v", f, err)
				}
			}
		})
	}
	t.Cleanup(func() {
		for _, r := range results {
			t.Logf("hostile issuer %-16s ended in %6s, peak RSS %3d MiB", r.behaviour, r.took.Round(100*time.Millisecond), r.rssKiB>>10)
		}
	})
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines before", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
