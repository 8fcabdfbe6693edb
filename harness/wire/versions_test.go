package wire_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/codexauth/codexauth/harness/capture"
	"github.com/codexauth/codexauth/harness/wire"
)

// TestClientSpeaksAsEveryCapturedVersion replays the requests of every
// kept capture (fixtures/golden/capture-codex-*.txt, one per release of the
// version matrix) through the harness client speaking that release's
// dialect, and compares what goes on the wire: method, path, content type,
// the body byte for byte (masked secrets replayed as they are), the
// Accept-Encoding codex sent and its User-Agent.
func TestClientSpeaksAsEveryCapturedVersion(t *testing.T) {
	files, _ := filepath.Glob("../../fixtures/golden/capture-codex-*.txt")
	if len(files) == 0 {
		t.Fatal("no captures in fixtures/golden")
	}
	var mu sync.Mutex
	var got []*http.Request
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, string(b))
		mu.Unlock()
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		c, err := capture.Parse(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		replayed := 0
		for _, s := range c.Sections {
			for _, e := range s.Exchanges {
				cl := wire.NewClient(srv.URL, "")
				cl.Dialect = wire.DialectOf(c.Version)
				browserExchange := false
				switch path := e.Path(); {
				case e.Note != "" || e.Method != http.MethodPost:
					continue // the browser's authorize request; GETs of the agent and auth API flows
				case path == "/api/accounts/deviceauth/usercode":
					cl.RequestDeviceCode(ctx)
				case path == "/api/accounts/deviceauth/token":
					var d struct {
						ID   string `json:"device_auth_id"`
						Code string `json:"user_code"`
					}
					_ = json.Unmarshal([]byte(e.Body), &d)
					cl.DevicePoll(ctx, wire.DeviceCode{DeviceAuthID: d.ID, UserCode: d.Code})
				case path == "/oauth/revoke":
					var r struct{ Token, Hint string }
					var raw map[string]string
					_ = json.Unmarshal([]byte(e.Body), &raw)
					r.Token, r.Hint = raw["token"], raw["token_type_hint"]
					cl.Revoke(ctx, r.Token, r.Hint)
				case strings.Contains(e.Body, `"grant_type":"refresh_token"`):
					var raw map[string]string
					_ = json.Unmarshal([]byte(e.Body), &raw)
					cl.Refresh(ctx, raw["refresh_token"], raw["refresh_reason"])
				case strings.Contains(e.Body, "grant_type=authorization_code"):
					q, _ := url.ParseQuery(e.Body)
					cl.ExchangeCode(ctx, q.Get("code"), q.Get("redirect_uri"), q.Get("code_verifier"))
					browserExchange = e.Header("host") == "auth.openai.com"
				case strings.Contains(e.Body, "token-exchange"):
					q, _ := url.ParseQuery(e.Body)
					cl.ExchangeAPIKey(ctx, q.Get("subject_token"))
				case strings.Contains(e.Body, "jwt-bearer"):
					q, _ := url.ParseQuery(e.Body)
					cl.WorkloadExchange(ctx, q.Get("assertion"), q.Get("federation_rule_id"), q.Get("workload_identity_context"))
				default:
					continue // agent task registration: signed per request, checked by the agent-identity profile
				}
				replayed++
				mu.Lock()
				g, body := got[len(got)-1], bodies[len(bodies)-1]
				mu.Unlock()
				where := c.Version + " " + s.Name + " " + e.Method + " " + e.Path()
				if g.Method != e.Method || g.URL.Path != e.Path() || g.Header.Get("Content-Type") != e.Header("content-type") || body != e.Body {
					t.Errorf("%s differs from codex:\n got %s %s [%s] %s\nwant %s %s [%s] %s", where,
						g.Method, g.URL.Path, g.Header.Get("Content-Type"), body, e.Method, e.Path(), e.Header("content-type"), e.Body)
				}
				// The browser's code exchange shares /oauth/token with the device
				// flow's, which asks for no coding: the client asks as the stricter one.
				if ae := g.Header.Get("Accept-Encoding"); ae != e.Header("accept-encoding") && !browserExchange {
					t.Errorf("%s: Accept-Encoding %q, codex sends %q", where, ae, e.Header("accept-encoding"))
				}
				if want := e.Header("user-agent"); want != "" && !strings.HasPrefix(g.Header.Get("User-Agent"), "codex_cli_rs/"+c.Version+" ") {
					t.Errorf("%s: User-Agent %q, codex sends %q", where, g.Header.Get("User-Agent"), want)
				}
				if want := e.Header("originator"); want != "" && g.Header.Get("originator") != want {
					t.Errorf("%s: originator %q, codex sends %q", where, g.Header.Get("originator"), want)
				}
			}
		}
		if replayed < 10 {
			t.Errorf("%s: only %d requests replayed", file, replayed)
		}
		t.Logf("codex %s: %d captured requests replayed", c.Version, replayed)
	}
}
