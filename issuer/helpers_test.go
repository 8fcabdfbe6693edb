package issuer_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer"
	"github.com/codexauth/codexauth/issuer/store/memory"
)

const adminToken = "test-admin-token-0123456789"

type env struct {
	t    *testing.T
	srv  *issuer.Server
	http *httptest.Server
	url  string
}

// start runs an issuer on loopback with a memory store unless cfg has one.
func start(t *testing.T, mutate func(*issuer.Config)) *env {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	cfg := issuer.Config{PublicURL: "http://" + hs.Listener.Addr().String(), Store: memory.New(), AdminToken: adminToken, GCInterval: -1}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx := context.Background()
	if err := issuer.SeedUsers(ctx, cfg.Store, issuer.DefaultUsers()); err != nil {
		t.Fatal(err)
	}
	srv, err := issuer.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return &env{t: t, srv: srv, http: hs, url: cfg.PublicURL}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return m
}

func (r resp) str(k string) string { s, _ := r.json()[k].(string); return s }

func (e *env) do(method, path, contentType, body string, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) postJSON(path string, v any) resp {
	e.t.Helper()
	b, _ := json.Marshal(v)
	return e.do("POST", path, "application/json", string(b))
}

func (e *env) postForm(path string, v url.Values) resp {
	e.t.Helper()
	return e.do("POST", path, "application/x-www-form-urlencoded", v.Encode())
}

func (e *env) admin(method, path string, v any) resp {
	e.t.Helper()
	b, _ := json.Marshal(v)
	return e.do(method, "/__admin"+path, "application/json", string(b), "Authorization", "Bearer "+adminToken)
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// verifier is a fixed 86-character PKCE verifier like codex's.
var verifier = strings.Repeat("v", 86)

// browserLogin runs authorize (headless, via admin) and the code exchange.
func (e *env) browserLogin(user string) resp {
	e.t.Helper()
	code, redirect := e.authorize(user, issuer.CodexRedirectURIs[0])
	return e.postForm("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {issuer.CodexClientID},
		"code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
}

func (e *env) authorizeURL(redirect string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {issuer.CodexClientID}, "redirect_uri": {redirect},
		"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}, "state": {"st-123"}, "scope": {"openid profile email offline_access"}}
	return e.url + "/oauth/authorize?" + q.Encode()
}

func (e *env) authorize(user, redirect string) (code, redirectURI string) {
	e.t.Helper()
	r := e.admin("POST", "/authorize", map[string]string{"url": e.authorizeURL(redirect), "user": user})
	if r.status != 200 {
		e.t.Fatalf("admin authorize: %d %s", r.status, r.body)
	}
	loc, err := url.Parse(r.str("redirect"))
	if err != nil || loc.Query().Get("code") == "" {
		e.t.Fatalf("no code in redirect %q", r.str("redirect"))
	}
	if loc.Query().Get("state") != "st-123" {
		e.t.Fatalf("state not returned unchanged: %q", loc.Query().Get("state"))
	}
	return loc.Query().Get("code"), redirect
}

func (e *env) refresh(rt string) resp {
	e.t.Helper()
	return e.postJSON("/oauth/token", map[string]string{"client_id": issuer.CodexClientID, "grant_type": "refresh_token",
		"refresh_reason": "proactive_expiry", "refresh_token": rt})
}

func (e *env) advance(d time.Duration) {
	e.t.Helper()
	if r := e.admin("POST", "/clock/advance", map[string]any{"seconds": d.Seconds()}); r.status != 200 {
		e.t.Fatalf("advance clock: %d %s", r.status, r.body)
	}
}

func wantError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d error=%q", r.status, r.body, status, code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q, want JSON", ct)
	}
}

// claims decodes a JWT payload the way codex does (contract §5.1).
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		t.Fatalf("not a three-segment JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload is not unpadded base64url: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("payload is not a JSON object: %v", err)
	}
	return m
}
