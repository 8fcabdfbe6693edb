package wire

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// captured is one request of fixtures/golden/wire-codex-0.169.0.txt, the
// verbatim capture of codex 0.169.0 talking to a mock issuer.
type captured struct {
	section, method, path, contentType, originator, userAgent, body string
}

func loadCapture(t *testing.T) []captured {
	f, err := os.Open("../../fixtures/golden/wire-codex-0.169.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []captured
	var cur *captured
	section := ""
	inHeaders := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### "):
			section = strings.TrimPrefix(line, "### ")
		case strings.HasPrefix(line, "POST ") && strings.HasSuffix(line, " HTTP/1.1"):
			parts := strings.Fields(line)
			out = append(out, captured{section: section, method: parts[0], path: parts[1]})
			cur, inHeaders = &out[len(out)-1], true
		case cur != nil && inHeaders && line == "":
			inHeaders = false
		case cur != nil && inHeaders:
			k, v, _ := strings.Cut(line, ": ")
			switch strings.ToLower(k) {
			case "content-type":
				cur.contentType = v
			case "originator":
				cur.originator = v
			case "user-agent":
				cur.userAgent = v
			}
		case cur != nil && !inHeaders && !strings.HasPrefix(line, "--> ") && cur.body == "":
			cur.body = line
		}
	}
	return out
}

// TestClientMatchesTheWireCapture replays every request of the capture
// through the harness client and compares what goes on the wire: method,
// path, content type, codex's headers, and the body byte for byte (field
// order included).
func TestClientMatchesTheWireCapture(t *testing.T) {
	var mu sync.Mutex
	var got []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
			originator: r.Header.Get("originator"), userAgent: r.Header.Get("User-Agent"), body: string(b)})
		mu.Unlock()
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	ctx := context.Background()
	want := loadCapture(t)
	if len(want) < 8 {
		t.Fatalf("capture parsed into %d requests", len(want))
	}
	for _, w := range want {
		c := NewClient(srv.URL, "")
		switch {
		case w.path == "/api/accounts/deviceauth/usercode":
			c.RequestDeviceCode(ctx)
		case w.path == "/api/accounts/deviceauth/token":
			c.DevicePoll(ctx, DeviceCode{DeviceAuthID: "deviceauth_mock_1", UserCode: "MOCK-1234"})
		case w.path == "/oauth/revoke":
			c.Revoke(ctx, between(w.body, `"token":"`, `"`), "refresh_token")
		case strings.Contains(w.body, `"grant_type":"refresh_token"`):
			c.Refresh(ctx, between(w.body, `"refresh_token":"`, `"`), between(w.body, `"refresh_reason":"`, `"`))
		case strings.Contains(w.body, "grant_type=authorization_code"):
			redirect := formValue(w.body, "redirect_uri")
			c.ExchangeCode(ctx, formValue(w.body, "code"), redirect, formValue(w.body, "code_verifier"))
		case strings.Contains(w.body, "token-exchange"):
			c.ExchangeAPIKey(ctx, formValue(w.body, "subject_token"))
		default:
			t.Fatalf("capture request not understood: %+v", w)
		}
		mu.Lock()
		g := got[len(got)-1]
		mu.Unlock()
		if g.method != w.method || g.path != w.path || g.contentType != w.contentType || g.body != w.body {
			t.Errorf("%s %s differs from codex 0.169.0:\n got %s %s [%s] %s\nwant %s %s [%s] %s", w.section, w.path,
				g.method, g.path, g.contentType, g.body, w.method, w.path, w.contentType, w.body)
		}
		if w.originator != "" && g.originator != w.originator {
			t.Errorf("%s: originator %q, codex sends %q", w.section, g.originator, w.originator)
		}
		if w.userAgent != "" && !strings.HasPrefix(g.userAgent, "codex_cli_rs/0.169.0") {
			t.Errorf("%s: User-Agent %q, codex sends %q", w.section, g.userAgent, w.userAgent)
		}
	}
	t.Logf("%d captured requests replayed byte for byte", len(want))
}

func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, end)
	return v
}

func formValue(body, key string) string {
	for _, kv := range strings.Split(body, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			u, _ := urlUnescape(v)
			return u
		}
	}
	return ""
}
