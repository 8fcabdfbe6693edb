package codexcli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// AppServerLogin is the outcome of an app-server login.
type AppServerLogin struct {
	UserCode        string
	VerificationURL string
	Success         bool
	Error           string
}

// AppServerDeviceLogin drives `codex app-server` (stdio JSON-RPC) through a
// device-code login against the issuer (CODEX_APP_SERVER_LOGIN_ISSUER,
// contract §2.1, §3.9): initialize, initialized, account/login/start
// {"type":"chatgptDeviceCode"}, then approve the user code and wait for
// account/login/completed. Completion needs the workspace routing discovery
// at <chatgpt_base_url>/wham/accounts/check, pointed at the issuer.
func (d *Driver) AppServerDeviceLogin(ctx context.Context, approve func(ctx context.Context, userCode string) error) (AppServerLogin, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	args := []string{"-c", `chatgpt_base_url="` + d.Endpoints.ChatGPTBase + `"`, "app-server"}
	cmd := exec.CommandContext(ctx, d.Bin, args...)
	cmd.Env = append(d.env(), "CODEX_APP_SERVER_LOGIN_ISSUER="+d.Issuer)
	cmd.Dir = filepath.Dir(d.Home)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return AppServerLogin{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return AppServerLogin{}, err
	}
	// The evidence of the run: the JSON-RPC conversation as stdout, codex's
	// log as stderr; the exit code says whether the login completed (the
	// app-server itself is stopped, not exited).
	var transcript, stderr syncBuffer
	cmd.Stderr = &stderr
	start, before := time.Now(), d.authSnapshot()
	if err := cmd.Start(); err != nil {
		return AppServerLogin{}, fmt.Errorf("start codex app-server: %w", err)
	}
	var out AppServerLogin
	defer func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		res := Result{Version: d.Version, Args: args, Stdout: transcript.String(), Stderr: stderr.String(), Duration: time.Since(start), ExitCode: 1}
		if out.Success {
			res.ExitCode = 0
		} else if out.Error != "" {
			res.Stderr += "account/login/completed: " + out.Error + "\n"
		}
		d.observe(res, before)
	}()
	send := func(v any) error {
		b, _ := json.Marshal(v)
		transcript.WriteString("→ " + string(b) + "\n")
		_, err := stdin.Write(append(b, '\n'))
		return err
	}
	msgs := make(chan map[string]any, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			transcript.WriteString("← " + sc.Text() + "\n")
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				msgs <- m
			}
		}
		close(msgs)
	}()
	for _, m := range []any{
		map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": map[string]any{"clientInfo": map[string]string{"name": "codexauth", "version": "1"}}},
		map[string]any{"jsonrpc": "2.0", "method": "initialized"},
		map[string]any{"jsonrpc": "2.0", "id": 2, "method": "account/login/start", "params": map[string]string{"type": "chatgptDeviceCode"}},
	} {
		if err := send(m); err != nil {
			return AppServerLogin{}, err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("codex app-server: no login completion within %s", d.Timeout)
		case m, ok := <-msgs:
			if !ok {
				return out, fmt.Errorf("codex app-server exited before completing the login")
			}
			if id, _ := m["id"].(float64); id == 2 {
				if e, ok := m["error"]; ok {
					return out, fmt.Errorf("account/login/start: %v", e)
				}
				res, _ := m["result"].(map[string]any)
				out.UserCode, _ = res["userCode"].(string)
				out.VerificationURL, _ = res["verificationUrl"].(string)
				if err := approve(ctx, out.UserCode); err != nil {
					return out, fmt.Errorf("approve %s: %w", out.UserCode, err)
				}
			}
			if method, _ := m["method"].(string); method == "account/login/completed" {
				p, _ := m["params"].(map[string]any)
				out.Success, _ = p["success"].(bool)
				if e, ok := p["error"].(string); ok {
					out.Error = strings.TrimSpace(e)
				}
				return out, nil
			}
		case <-time.After(time.Second):
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the reader goroutine and the
// process's stderr copier to write while the driver reads it at the end.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) WriteString(s string) { _, _ = b.Write([]byte(s)) }

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
