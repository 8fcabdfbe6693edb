package evidence

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMaskingKeepsNoSecretAndFollowsTokens(t *testing.T) {
	m := NewMasker()
	jwt := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","aud":"https://api.openai.com/v1","agent_private_key":"MC4CAQAwBQYDK2VwBCIEIHh"}`)) + ".c2lnbmF0dXJl"
	body, jwts := m.Body("application/json", `{"access_token":"`+jwt+`","refresh_token":"rt_0123456789abcdef","error":"invalid_grant","expires_in":3600}`)
	if strings.Contains(body, "rt_0123456789abcdef") || strings.Contains(body, jwt) {
		t.Fatalf("a secret survived: %s", body)
	}
	if !strings.Contains(body, "invalid_grant") || !strings.Contains(body, "3600") {
		t.Fatalf("masked what is not secret: %s", body)
	}
	if len(jwts) != 1 || jwts[0].Claims["sub"] != "alice" || jwts[0].Header["kid"] != "k1" {
		t.Fatalf("JWT not decoded: %+v", jwts)
	}
	if k, _ := jwts[0].Claims["agent_private_key"].(string); strings.Contains(k, "MC4CAQ") {
		t.Fatalf("a secret claim survived decoding: %v", jwts[0].Claims)
	}
	// The same token gets the same fingerprint wherever it appears, also in
	// free text and forms.
	form, _ := m.Body("application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=rt_0123456789abcdef")
	text := m.Text("codex said: token rt_0123456789abcdef was reused")
	fp := m.Register("refresh_token", "rt_0123456789abcdef")
	if !strings.Contains(body, fp) || !strings.Contains(form, fp) || !strings.Contains(text, fp) {
		t.Fatalf("fingerprint %s not followed:\n%s\n%s\n%s", fp, body, form, text)
	}
	if got := m.Header("Authorization", "Bearer adm-secret-123456"); strings.Contains(got, "adm-secret") {
		t.Fatalf("authorization header: %s", got)
	}
	if got := m.URL("http://127.0.0.1:1455/auth/callback?code=ac_abcdefghijklmnop&state=xyz"); strings.Contains(got, "ac_abcdefghijklmnop") || !strings.Contains(got, "state=xyz") {
		t.Fatalf("redirect: %s", got)
	}
	// A URL inside a body (the admin API's headless authorize answers one)
	// has its code masked too, and a device_code field is a secret.
	inBody, _ := m.Body("application/json", `{"redirect":"http://127.0.0.1:1455/auth/callback?code=ac_qrstuvwxyz012345&state=abc","device_code":"dc_0123456789abcdef"}`)
	if strings.Contains(inBody, "ac_qrstuvwxyz012345") || strings.Contains(inBody, "dc_0123456789abcdef") || !strings.Contains(inBody, "state=abc") {
		t.Fatalf("a code in a body: %s", inBody)
	}
	// The leak check finds what was missed.
	if leaks := m.Leaks(body + form + text); len(leaks) != 0 {
		t.Fatalf("leaks in masked text: %v", leaks)
	}
	leaks := strings.Join(m.Leaks("oops rt_0123456789abcdef. and "+jwt), " ")
	if !strings.Contains(leaks, fp) || !strings.Contains(leaks, "unmasked JWT") {
		t.Fatalf("leak check missed: %v", leaks)
	}
}

func TestRecorderRecordsThroughTheTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"refresh_token":"rt_from_the_server_123"}`))
	}))
	defer srv.Close()
	rec := NewRecorder()
	hc := &http.Client{Transport: rec.Transport(nil)}
	rec.Begin()
	res, err := hc.Post(srv.URL+"/oauth/token", "application/json", strings.NewReader(`{"refresh_token":"rt_presented_456789"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = res.Body.Read(make([]byte, 100))
	res.Body.Close()
	r := rec.End()
	if len(r.Exchanges) != 1 || r.Exchanges[0].Status != 200 {
		t.Fatalf("exchanges: %+v", r.Exchanges)
	}
	all := r.Text()
	for _, secret := range []string{"rt_from_the_server_123", "rt_presented_456789"} {
		if strings.Contains(all, secret) {
			t.Fatalf("%s in the record:\n%s", secret, all)
		}
	}
	if !strings.Contains(all, "/oauth/token") {
		t.Fatalf("record: %s", all)
	}
}
