package capture

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMaskingKeepsFieldOrderAndEncoding(t *testing.T) {
	m := masker{issuerHostPort: "127.0.0.1:41234"}
	form := "grant_type=authorization_code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&code=ac_0123456789abcdef0123&redirect_uri=http%3A%2F%2F127.0.0.1%3A41234%2Fdeviceauth%2Fcallback&code_verifier=0i60m_h0IRBjuk_DpqKZIEbdr0EykEjvruAc9EtnL8e9ORE1T2feYBwMzTaKPgHv6L0jdcFbVa5J8UNgJgKFWg"
	want := "grant_type=authorization_code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&code=masked.23&redirect_uri=http%3A%2F%2Fissuer.test%2Fdeviceauth%2Fcallback&code_verifier=masked.86"
	if got := m.body("application/x-www-form-urlencoded", form); got != want {
		t.Errorf("form:\n got %s\nwant %s", got, want)
	}
	js := `{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_reason":"proactive_expiry","refresh_token":"rt_Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1","n":1,"ok":true,"x":null,"at":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"}`
	wantJS := `{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_reason":"proactive_expiry","refresh_token":"masked.31","n":1,"ok":true,"x":null,"at":"masked.jwt"}`
	if got := m.body("application/json", js); got != wantJS {
		t.Errorf("json:\n got %s\nwant %s", got, wantJS)
	}
	if got := m.headerValue("authorization", "Bearer at-0123456789abcdef0123456789"); got != "Bearer masked.29" {
		t.Errorf("authorization: %s", got)
	}
	if got := maskPath("/api/accounts/v1/agent/agent_5wHnE2LcDTR81AjFS6tnSg/task/register"); got != "/api/accounts/v1/agent/masked.28/task/register" {
		t.Errorf("path: %s", got)
	}
}

func TestRecorderRecordsOnlyCodexRequestsOfASection(t *testing.T) {
	rec := NewRecorder()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(InterceptedHeader) != "" {
			t.Errorf("the issuer saw the guard's marker header")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"refresh_token":"rt_secretsecretsecret0001","token_type":"Bearer"}`))
	}))
	defer srv.Close()
	issuer = srv.URL
	front := httptest.NewServer(rec.Wrap(srv.Config.Handler, issuer))
	defer front.Close()
	post := func(path, body string, hdr ...string) {
		req, _ := http.NewRequest(http.MethodPost, front.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	post("/oauth/token", `{"before":"begin"}`)
	rec.Begin("02_refresh")
	post("/__admin/settings", `{"access_ttl":"240s"}`)
	post("/oauth/token", `{"grant_type":"refresh_token","refresh_token":"rt_secretsecretsecret0001"}`, InterceptedHeader, "auth.openai.com")
	rec.End()
	got := rec.Take()
	if len(got) != 1 {
		t.Fatalf("recorded %d requests, want the one codex request of the section: %+v", len(got), got)
	}
	e := got[0]
	if e.Section != "02_refresh" || e.Header("host") != "auth.openai.com" || e.Status != 200 {
		t.Errorf("exchange: %+v", e)
	}
	if e.Body != `{"grant_type":"refresh_token","refresh_token":"masked.25"}` || strings.Contains(e.Response, "secret") {
		t.Errorf("secrets not masked: %s → %s", e.Body, e.Response)
	}
}

func TestWriteThenParseGivesTheSameCapture(t *testing.T) {
	c := &Capture{Version: "0.171.0", Sections: []Section{
		{Name: "01_device_login", Refused: []string{"chatgpt.com:443"}, Exchanges: []Exchange{
			{Method: "POST", Target: "/api/accounts/deviceauth/usercode", Headers: []Header{{"host", IssuerHost}, {"content-type", "application/json"}},
				Body: `{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann"}`, Status: 200, Response: `{"user_code":"masked.9"}`},
		}},
		{Name: "04_browser_login", Exchanges: []Exchange{
			{Method: "GET", Target: "/oauth/authorize?response_type=code&state=masked.43", Headers: []Header{{"host", "auth.openai.com"}}, Note: "opened in the browser"},
			{Method: "GET", Target: "/backend-api/wham/agent-identities/jwks", Headers: []Header{{"host", IssuerHost}}, Status: 200, Response: `{"keys":[]}`},
		}},
		{Name: "07_workload_login", Failed: "not supported"},
	}}
	var b bytes.Buffer
	if err := Write(&b, c); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(c, back); len(d) > 0 || back.Version != "0.171.0" || len(back.Sections) != 3 || back.Sections[2].Failed != "not supported" {
		t.Fatalf("round trip differs: %v\n%+v", d, back)
	}
	if n := back.Sections[1].Exchanges[0]; n.Note != "opened in the browser" || n.Target != c.Sections[1].Exchanges[0].Target {
		t.Errorf("note: %+v", n)
	}
}

func TestDiffReportsWhatAnIssuerWouldNotice(t *testing.T) {
	refresh := func(ct, body string, hdr ...Header) Exchange {
		return Exchange{Method: "POST", Target: "/oauth/token", Headers: append([]Header{{"host", IssuerHost}, {"content-type", ct},
			{"user-agent", "codex_cli_rs/0.169.0 (Debian 12.0.0; x86_64) dumb"}}, hdr...), Body: body, Status: 200}
	}
	base := &Capture{Version: "0.169.0", Sections: []Section{{Name: "02_refresh", Exchanges: []Exchange{
		refresh("application/json", `{"client_id":"app","grant_type":"refresh_token","refresh_reason":"proactive_expiry","refresh_token":"masked.46"}`),
	}}}}
	next := &Capture{Version: "0.171.0", Sections: []Section{{Name: "02_refresh", Refused: []string{"ab.chatgpt.com:443"}, Exchanges: []Exchange{
		{Method: "GET", Target: "/.well-known/openid-configuration", Headers: []Header{{"host", IssuerHost}}, Status: 200},
		refresh("application/x-www-form-urlencoded", `grant_type=refresh_token&client_id=app&refresh_token=masked.64&refresh_reason=stale&scope=openid`,
			Header{"accept-encoding", "zstd,gzip"}),
	}}}}
	got := strings.Join(Summary(Diff(base, next)), "\n")
	for _, want := range []string{
		"endpoint [02_refresh]: new: GET /.well-known/openid-configuration",
		"destination [02_refresh]: codex now also tries to reach ab.chatgpt.com:443",
		"encoding: POST /oauth/token in 02_refresh: body json → form",
		"encoding: POST /oauth/token in 02_refresh: content-type: application/json → application/x-www-form-urlencoded",
		"header: POST /oauth/token in 02_refresh: new header accept-encoding: zstd,gzip",
		"field: POST /oauth/token in 02_refresh: new field scope (string openid)",
		"order: POST /oauth/token in 02_refresh: field order client_id,grant_type,refresh_reason,refresh_token → grant_type,client_id,refresh_token,refresh_reason",
		"value: POST /oauth/token in 02_refresh: field refresh_reason: proactive_expiry → stale",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("drift lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "user-agent") {
		t.Errorf("the version in User-Agent is no drift:\n%s", got)
	}
	if strings.Contains(got, "masked.64") {
		t.Errorf("a secret's length is the issuer's, not codex's drift:\n%s", got)
	}
	if d := Diff(base, base); len(d) != 0 {
		t.Errorf("a capture drifts from itself: %v", d)
	}
}

// TestGoldenCaptures: every kept capture parses, names its version, holds
// every flow, and no secret survived masking.
func TestGoldenCaptures(t *testing.T) {
	files, _ := filepath.Glob("../../fixtures/golden/capture-codex-*.txt")
	if len(files) == 0 {
		t.Fatal("no captures in fixtures/golden")
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if want := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "capture-codex-"), ".txt"); c.Version != want {
			t.Errorf("%s says codex %q", file, c.Version)
		}
		for _, f := range Flows {
			s := c.Section(f)
			if s == nil || (len(s.Exchanges) == 0 && s.Failed == "") {
				t.Errorf("%s: flow %s missing or empty", file, f)
			}
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "# ") {
				continue
			}
			// codex's own loopback callback (127.0.0.1:1455) is no secret and no issuer port.
			line = strings.ReplaceAll(line, "127.0.0.1%3A1455", "")
			for _, leak := range []string{"eyJ", "rt_", "127.0.0.1", "fr_"} {
				if i := strings.Index(line, leak); i >= 0 {
					t.Errorf("%s: %q survived masking: %s", file, leak, line[i:min(len(line), i+60)])
				}
			}
		}
	}
}

func TestParseReadsTheVerbatimCapture(t *testing.T) {
	f, err := os.Open("../../fixtures/golden/wire-codex-0.169.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range c.Sections {
		n += len(s.Exchanges)
	}
	if len(c.Sections) != 9 || n != 13 {
		t.Fatalf("parsed %d sections, %d requests; want 9 and 13", len(c.Sections), n)
	}
	if e := c.Section("02_refresh_ok.jsonl").Exchanges[0]; e.Header("originator") != "codex_cli_rs" || !strings.HasPrefix(e.Body, `{"client_id"`) || e.Status != 200 {
		t.Errorf("refresh: %+v", e)
	}
}
