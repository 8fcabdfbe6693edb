package codexcli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// session is a running codex command whose output is watched line by line.
type session struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   bytes.Buffer
	lines chan string
	done  chan struct{}
	err   error
	start time.Time
	args  []string
	// d and authBefore feed the driver's Observe when the session ends.
	d          *Driver
	authBefore string
	// version is the codex version that runs.
	version string
}

func (d *Driver) startSession(ctx context.Context, args ...string) (*session, error) {
	cmd := exec.CommandContext(ctx, d.Bin, args...)
	cmd.Env = d.env()
	cmd.Dir = filepath.Dir(d.Home)
	cmd.Stdin = strings.NewReader("")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	s := &session{cmd: cmd, lines: make(chan string, 256), done: make(chan struct{}), start: time.Now(), args: args, version: d.Version,
		d: d, authBefore: d.authSnapshot()}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start codex: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := StripANSI(sc.Text())
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			s.mu.Unlock()
			select {
			case s.lines <- line:
			default:
			}
		}
		close(s.lines)
	}()
	go func() {
		s.err = cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	return s, nil
}

// waitFor returns the first line (and the lines after it, up to n) that
// match re, or an error when codex exits or the time runs out first.
func (s *session) waitFor(ctx context.Context, re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				<-s.done
				return nil, fmt.Errorf("codex exited before printing %q:\n%s", re, s.output())
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("codex did not print %q within %s:\n%s", re, timeout, s.output())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *session) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// finish waits for codex to exit (killing it after timeout) and returns
// the result.
func (s *session) finish(timeout time.Duration) Result {
	go func() {
		for range s.lines {
		}
	}()
	select {
	case <-s.done:
	case <-time.After(timeout):
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	res := Result{Version: s.version, Args: s.args, Stdout: s.output(), Duration: time.Since(s.start)}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		res.ExitCode = ee.ExitCode()
	} else if s.err != nil {
		res.ExitCode = -1
	}
	s.d.observe(res, s.authBefore)
	return res
}

var userCodeLine = regexp.MustCompile(`^\s+([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})+)\s*$`)

// DeviceLoginWith runs the device login and calls approve with the user
// code codex prints, as a person reading the terminal would.
func (d *Driver) DeviceLoginWith(ctx context.Context, approve func(ctx context.Context, userCode string) error, extra ...string) (Result, error) {
	s, err := d.startSession(ctx, append([]string{"login", "--device-auth", "--experimental_issuer", d.Issuer}, extra...)...)
	if err != nil {
		return Result{}, err
	}
	m, err := s.waitFor(ctx, userCodeLine, 30*time.Second)
	if err != nil {
		res := s.finish(5 * time.Second)
		return res, nil // codex failed before showing a code: its output says why
	}
	if err := approve(ctx, m[1]); err != nil {
		_ = s.cmd.Process.Kill()
		s.finish(5 * time.Second)
		return Result{}, fmt.Errorf("approve %s: %w", m[1], err)
	}
	return s.finish(d.Timeout), nil
}

var authorizeLine = regexp.MustCompile(`(https://auth\.openai\.com/oauth/authorize\?\S+)`)

// portLock serialises browser logins across processes: codex binds
// 127.0.0.1:1455 (1457 as fallback), which only one login can hold.
func portLock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "codexauth-login-1455.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// BrowserLogin runs `codex login` (browser) with auth.openai.com routed
// through the guard to the issuer. complete receives the authorize URL
// rewritten onto the issuer and returns the callback URL a browser would
// be redirected to; the callback is then delivered to codex directly.
func (d *Driver) BrowserLogin(ctx context.Context, guard *Guard, complete func(ctx context.Context, authorizeURL, redirectURI string) (string, error), occupy1455 bool) (Result, error) {
	unlock, err := portLock()
	if err != nil {
		return Result{}, fmt.Errorf("lock port 1455: %w", err)
	}
	defer unlock()
	ca, err := d.interceptAuthOpenAI(guard)
	if err != nil {
		return Result{}, err
	}
	if occupy1455 {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "busy", http.StatusServiceUnavailable) // answers codex's GET /cancel without yielding
		})}
		ln, err := listen("127.0.0.1:1455")
		if err != nil {
			return Result{}, fmt.Errorf("occupy port 1455: %w", err)
		}
		go srv.Serve(ln)
		defer srv.Close()
	}
	saved := d.Env
	d.Env = append(append([]string(nil), d.Env...), "CODEX_CA_CERTIFICATE="+ca)
	defer func() { d.Env = saved }()
	s, err := d.startSession(ctx, "login")
	if err != nil {
		return Result{}, err
	}
	m, err := s.waitFor(ctx, authorizeLine, 30*time.Second)
	if err != nil {
		return s.finish(5 * time.Second), nil
	}
	authURL := strings.Replace(m[1], "https://auth.openai.com", d.Issuer, 1)
	redirect := redirectOf(authURL)
	loc, err := complete(ctx, authURL, redirect)
	if err != nil {
		_ = deliver(ctx, strings.Replace(redirect, "/auth/callback", "/cancel", 1))
		s.finish(10 * time.Second)
		return Result{}, fmt.Errorf("completing the authorize URL: %w", err)
	}
	if err := deliver(ctx, loc); err != nil {
		_ = deliver(ctx, strings.Replace(redirect, "/auth/callback", "/cancel", 1))
		s.finish(10 * time.Second)
		return Result{}, fmt.Errorf("delivering the callback to codex: %w", err)
	}
	return s.finish(d.Timeout), nil
}

func redirectOf(authURL string) string {
	if i := strings.Index(authURL, "redirect_uri="); i >= 0 {
		v := authURL[i+len("redirect_uri="):]
		if j := strings.IndexByte(v, '&'); j >= 0 {
			v = v[:j]
		}
		if u, err := urlUnescape(v); err == nil {
			return u
		}
	}
	return "http://127.0.0.1:1455/auth/callback"
}

// deliver plays the browser following the redirect to codex's loopback
// callback server, without any proxy, and on to its /success page (codex
// finishes the login when the browser fetches it, §3.8). Redirects that
// leave the loopback interface are not followed.
func deliver(ctx context.Context, u string) error {
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if h := req.URL.Hostname(); (h != "127.0.0.1" && h != "localhost") || len(via) > 5 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	return nil
}
