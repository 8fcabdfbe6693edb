package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/nacl/box"
)

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func jwtOf(payload string) string { return seg(`{"alg":"RS256"}`) + "." + seg(payload) + ".c2ln" }

func TestDecodeJWTPayloadFollowsCodexRules(t *testing.T) {
	ok := jwtOf(`{"a":1}`)
	cases := []struct {
		name, raw string
		wantErr   string
	}{
		{"valid", ok, ""},
		{"four segments are fine", ok + ".extra", ""},
		{"two segments", strings.Join(strings.Split(ok, ".")[:2], "."), "invalid ID token format"},
		{"empty signature", strings.Join(strings.Split(ok, ".")[:2], ".") + ".", "invalid ID token format"},
		{"padded payload", seg(`{}`) + "." + base64.URLEncoding.EncodeToString([]byte(`{"ab":1}`)) + ".c2ln", "padding"},
		{"standard alphabet", seg(`{}`) + "." + base64.RawStdEncoding.EncodeToString([]byte(`{"a":"??>"}`)) + ".c2ln", "padding"},
		{"array payload", jwtOf(`[1]`), "JSON object"},
		{"not JSON", jwtOf(`nope`), "JSON object"},
	}
	for _, tc := range cases {
		_, err := DecodeJWTPayload(tc.raw)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestParseIDTokenTypeChecks(t *testing.T) {
	good := `{"email":"a@b","https://api.openai.com/auth":{"chatgpt_account_id":"acct","chatgpt_plan_type":"plus","chatgpt_user_id":"u","chatgpt_account_is_fedramp":false}}`
	info, err := ParseIDToken(jwtOf(good))
	if err != nil || info.AccountID != "acct" || info.PlanType != "plus" || info.Email != "a@b" || info.UserID != "u" {
		t.Fatalf("good token: %+v %v", info, err)
	}
	for name, payload := range map[string]string{
		"email number":    `{"email":5}`,
		"auth string":     `{"https://api.openai.com/auth":"x"}`,
		"plan number":     `{"https://api.openai.com/auth":{"chatgpt_plan_type":1}}`,
		"fedramp string":  `{"https://api.openai.com/auth":{"chatgpt_account_is_fedramp":"no"}}`,
		"account numeric": `{"https://api.openai.com/auth":{"chatgpt_account_id":7}}`,
	} {
		if _, err := ParseIDToken(jwtOf(payload)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	info, err = ParseIDToken(jwtOf(`{"https://api.openai.com/profile":{"email":"p@q"},"https://api.openai.com/auth":{"user_id":"legacy"}}`))
	if err != nil || info.Email != "p@q" || info.UserID != "legacy" {
		t.Fatalf("profile email / user_id fallback: %+v %v", info, err)
	}
	info, err = ParseIDToken(jwtOf(`{}`))
	if err != nil || info.HasAuth {
		t.Fatalf("no auth claim must still parse: %+v %v", info, err)
	}
}

func TestAccessExp(t *testing.T) {
	if exp, err := AccessExp(jwtOf(`{"exp":1700000000}`)); err != nil || exp != 1700000000 {
		t.Fatalf("integer exp: %d %v", exp, err)
	}
	for _, p := range []string{`{"exp":1700000000.5}`, `{"exp":"1700000000"}`, `{}`} {
		if _, err := AccessExp(jwtOf(p)); err == nil {
			t.Errorf("%s accepted", p)
		}
	}
	if _, err := AccessExp("opaque"); err == nil {
		t.Error("opaque token accepted")
	}
}

func TestClassifyRefreshMatchesCodex(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   RefreshClass
	}{
		{200, `{}`, RefreshOK},
		{401, `{"error":{"code":"refresh_token_expired"}}`, RefreshPermanent},
		{400, `{"error":"REFRESH_TOKEN_REUSED"}`, RefreshPermanent},
		{403, `{"code":"refresh_token_invalidated"}`, RefreshPermanent},
		{401, `garbage`, RefreshPermanent},
		{400, `{"error":"invalid_grant"}`, RefreshPermanent},
		{400, `{"error":"invalid_request"}`, RefreshTransient},
		{403, `{"error":"forbidden"}`, RefreshTransient},
		{429, ``, RefreshTransient},
		{503, `{"error":"temporarily_unavailable"}`, RefreshTransient},
		{500, `{"error":"server_error"}`, RefreshTransient},
	}
	for _, c := range cases {
		if got, _ := ClassifyRefresh(c.status, []byte(c.body)); got != c.want {
			t.Errorf("%d %s: %s, want %s", c.status, c.body, got, c.want)
		}
	}
}

func TestIntervalIsString(t *testing.T) {
	for raw, want := range map[string]bool{`"5"`: true, `" 1 "`: true, `5`: false, `"x"`: false, `""`: false, ``: false, `null`: false} {
		if got := (DeviceCode{IntervalRaw: raw}).IntervalIsString(); got != want {
			t.Errorf("%s: %v", raw, got)
		}
	}
}

func TestAuthorizeURLMatchesCodexOrderAndEncoding(t *testing.T) {
	c := NewClient("http://issuer.test", "")
	u := c.AuthorizeURL(CodexRedirect(1455), PKCE{Challenge: "ch"}, "st")
	q := strings.SplitN(u, "?", 2)[1]
	want := "response_type=code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback&code_challenge=ch&code_challenge_method=S256&state=st&scope=openid+profile+email+offline_access+api.connectors.read+api.connectors.invoke&id_token_add_organizations=true&codex_cli_simplified_flow=true&originator=codex_cli_rs"
	if q != want {
		t.Fatalf("authorize query\n got %s\nwant %s", q, want)
	}
	if _, err := url.ParseQuery(q); err != nil {
		t.Fatal(err)
	}
	p := NewPKCE()
	if len(p.Verifier) != 86 || len(p.Challenge) != 43 || S256(p.Verifier) != p.Challenge || len(NewState()) != 43 {
		t.Fatalf("PKCE shapes: %d %d", len(p.Verifier), len(p.Challenge))
	}
}

func TestEncryptedTaskIDOpensWithTheAgentKey(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_, pub := X25519Keys(key)
	sealed, err := box.SealAnonymous(nil, []byte("task_123"), &pub, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ex := &Exchange{Status: 200, Body: []byte(`{"encrypted_task_id":"` + base64.StdEncoding.EncodeToString(sealed) + `"}`)}
	if id, err := TaskIDFor(ex, key); err != nil || id != "task_123" {
		t.Fatalf("open: %q %v", id, err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := TaskIDFor(ex, other); err == nil {
		t.Fatal("opened with another agent's key")
	}
	if id, _ := TaskIDFor(&Exchange{Body: []byte(`{"taskId":"t9"}`)}, nil); id != "t9" {
		t.Fatalf("taskId alias: %q", id)
	}
}
