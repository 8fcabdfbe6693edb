package issuertest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/issuertest"
)

// refresh does what codex does when its access token nears expiry
// (contract §6.3): a JSON refresh with refresh_reason. It returns the
// status and the decoded answer.
func refresh(iss *issuertest.Issuer, refreshToken string) (int, map[string]any, error) {
	body, _ := json.Marshal(map[string]string{"client_id": iss.ClientID, "grant_type": "refresh_token",
		"refresh_reason": "proactive_expiry", "refresh_token": refreshToken})
	res, err := http.Post(iss.URL+"/oauth/token", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	err = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out, err
}

// exp reads the exp claim of a JWT without verifying it.
func exp(jwt string) time.Time {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Exp int64 `json:"exp"`
	}
	_ = json.Unmarshal(b, &c)
	return time.Unix(c.Exp, 0)
}

// Start an issuer, sign a user in and refresh as codex would.
func ExampleStart() {
	iss, err := issuertest.Start(context.Background())
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	toks, err := iss.MintTokens(context.Background(), "alice")
	if err != nil {
		panic(err)
	}
	status, answer, _ := refresh(iss, toks.RefreshToken)
	fmt.Println(status, answer["refresh_token"] != toks.RefreshToken)
	// Output: 200 true
}

// Move the issuer's clock past the access token's expiry: the old access
// token is expired at the issuer, and a refresh hands out one that is not.
func ExampleIssuer_Advance() {
	iss, _ := issuertest.Start(context.Background(), issuertest.WithAccessTTL(time.Hour))
	defer iss.Close()
	toks, _ := iss.MintTokens(context.Background(), "alice")
	iss.Advance(2 * time.Hour)
	fmt.Println("old access token expired:", !exp(toks.AccessToken).After(iss.Now()))
	_, answer, _ := refresh(iss, toks.RefreshToken)
	fmt.Println("new access token expired:", !exp(answer["access_token"].(string)).After(iss.Now()))
	// Output:
	// old access token expired: true
	// new access token expired: false
}

// Switch a deliberate defect on to see how a client copes with a broken
// issuer: here the token endpoint refuses codex's JSON refresh bodies.
func ExampleIssuer_SetFaults() {
	iss, _ := issuertest.Start(context.Background())
	defer iss.Close()
	toks, _ := iss.MintTokens(context.Background(), "alice")
	if err := iss.SetFaults("refresh-form-only"); err != nil {
		panic(err)
	}
	status, _, _ := refresh(iss, toks.RefreshToken)
	fmt.Println(status)
	// Output: 415
}

// TestAClientDeveloperSession uses the helper the way a developer of a
// codex client does: a ready auth.json in a CODEX_HOME, the clock moved past
// expiry, a refresh, reuse detection, and a fault.
func TestAClientDeveloperSession(t *testing.T) {
	iss := issuertest.New(t, issuertest.WithAccessTTL(10*time.Minute))

	home := t.TempDir()
	authFile := filepath.Join(home, "auth.json")
	if err := os.WriteFile(authFile, iss.AuthJSON(t, "alice"), 0o600); err != nil {
		t.Fatal(err)
	}
	var auth struct {
		AuthMode string `json:"auth_mode"`
		Tokens   struct {
			AccessToken     string  `json:"access_token"`
			RefreshToken    string  `json:"refresh_token"`
			AccountID       *string `json:"account_id"`
			OAuthProvenance struct {
				Issuer string `json:"issuer"`
			} `json:"oauth_provenance"`
		} `json:"tokens"`
	}
	b, _ := os.ReadFile(authFile)
	if err := json.Unmarshal(b, &auth); err != nil {
		t.Fatal(err)
	}
	if auth.AuthMode != "chatgpt" || auth.Tokens.AccountID == nil || *auth.Tokens.AccountID != "acct_alice" || auth.Tokens.OAuthProvenance.Issuer != iss.URL {
		t.Fatalf("auth.json: %s", b)
	}

	// Nine minutes later the access token is inside codex's 300 s window.
	iss.Advance(9 * time.Minute)
	if left := exp(auth.Tokens.AccessToken).Sub(iss.Now()); left > 300*time.Second || left <= 0 {
		t.Fatalf("access token has %s left, want inside codex's refresh window", left)
	}
	status, answer, err := refresh(iss, auth.Tokens.RefreshToken)
	if err != nil || status != 200 {
		t.Fatalf("refresh: %d %v %v", status, answer, err)
	}
	if left := exp(answer["access_token"].(string)).Sub(iss.Now()); left < 9*time.Minute {
		t.Fatalf("refreshed access token has only %s left", left)
	}
	newest := answer["refresh_token"].(string)

	// The rotated-out token is now a stolen one: presenting it revokes the
	// sign-in, and even the newest token stops working.
	status, answer, _ = refresh(iss, auth.Tokens.RefreshToken)
	if status != 401 || answer["error"] != "refresh_token_reused" {
		t.Fatalf("reuse: %d %v", status, answer)
	}
	if status, answer, _ = refresh(iss, newest); status != 401 {
		t.Fatalf("the family's newest token survived reuse detection: %d %v", status, answer)
	}
	fams, err := iss.Families(context.Background(), "alice")
	if err != nil || len(fams) != 1 || !fams[0].Revoked {
		t.Fatalf("families after reuse: %+v %v", fams, err)
	}

	// A fault on: refresh answers with a padded id_token, which codex cannot
	// parse (contract §6.4).
	toks := iss.SignIn(t, "bob")
	if err := iss.SetFaults("refresh-bad-id-token"); err != nil {
		t.Fatal(err)
	}
	_, answer, _ = refresh(iss, toks.RefreshToken)
	if id, _ := answer["id_token"].(string); !strings.Contains(id, "=") {
		t.Fatalf("fault refresh-bad-id-token had no effect: %v", answer)
	}
	if err := iss.SetFaults(); err != nil {
		t.Fatal(err)
	}
}
