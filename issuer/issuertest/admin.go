package issuertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/codexauth/codexauth/adminapi"
	"github.com/codexauth/codexauth/issuer"
)

// Tokens is a token-endpoint answer (RFC 6749 §5.1) as codex receives it.
type Tokens struct {
	IDToken      string `json:"id_token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// SignIn signs user in without any flow (a new token family, as a finished
// device or browser login would give) and returns the tokens. It fails the
// test on error.
func (i *Issuer) SignIn(t testing.TB, user string) Tokens {
	t.Helper()
	toks, err := i.MintTokens(context.Background(), user)
	if err != nil {
		t.Fatalf("issuertest: sign %s in: %v", user, err)
	}
	return toks
}

// MintTokens is SignIn without a testing.TB.
func (i *Issuer) MintTokens(ctx context.Context, user string) (Tokens, error) {
	var out Tokens
	err := i.admin.call(ctx, http.MethodPost, "/tokens", adminapi.MintTokens{User: user, ClientID: i.ClientID}, &out)
	return out, err
}

// AuthJSON signs user in and returns the auth.json codex 0.169.0 writes
// after a login (contract §10), with oauth_provenance pointing at this
// issuer so that codex refreshes here. Write it to $CODEX_HOME/auth.json.
func (i *Issuer) AuthJSON(t testing.TB, user string) []byte {
	t.Helper()
	toks := i.SignIn(t, user)
	b, err := AuthJSON(toks, i.URL, i.ClientID, time.Now())
	if err != nil {
		t.Fatalf("issuertest: auth.json: %v", err)
	}
	return b
}

// AuthJSON renders tokens as codex's auth.json for a ChatGPT login signed in
// at issuerURL (contract §10). lastRefresh is the login time codex records.
func AuthJSON(toks Tokens, issuerURL, clientID string, lastRefresh time.Time) ([]byte, error) {
	type provenance struct {
		Issuer   string `json:"issuer"`
		ClientID string `json:"client_id"`
	}
	type tokens struct {
		IDToken         string     `json:"id_token"`
		AccessToken     string     `json:"access_token"`
		RefreshToken    string     `json:"refresh_token"`
		OAuthProvenance provenance `json:"oauth_provenance"`
		LoginOwnerID    string     `json:"login_owner_id"`
		AccountID       *string    `json:"account_id"`
	}
	var file struct {
		AuthMode     string  `json:"auth_mode"`
		OpenAIAPIKey *string `json:"OPENAI_API_KEY"`
		Tokens       tokens  `json:"tokens"`
		LastRefresh  string  `json:"last_refresh"`
	}
	file.AuthMode = "chatgpt"
	file.Tokens = tokens{IDToken: toks.IDToken, AccessToken: toks.AccessToken, RefreshToken: toks.RefreshToken,
		OAuthProvenance: provenance{Issuer: strings.TrimRight(issuerURL, "/"), ClientID: clientID}, LoginOwnerID: randomHex(16)}
	if acct := accountID(toks.IDToken); acct != "" {
		file.Tokens.AccountID = &acct
	}
	file.LastRefresh = lastRefresh.UTC().Format(time.RFC3339Nano)
	return json.MarshalIndent(file, "", "  ")
}

// accountID reads chatgpt_account_id from an id_token's payload (no
// signature check: the caller just received it from the issuer).
func accountID(idToken string) string {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Auth struct {
			AccountID string `json:"chatgpt_account_id"`
		} `json:"https://api.openai.com/auth"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	return claims.Auth.AccountID
}

// SetFaults replaces the switched-on faults of the catalogue (none: all off).
func (i *Issuer) SetFaults(names ...string) error {
	if names == nil {
		names = []string{}
	}
	return i.admin.call(context.Background(), http.MethodPut, "/faults", adminapi.Faults{Enabled: names}, nil)
}

// ApproveDevice approves the device code with userCode (what codex prints)
// for user, as a person on the verification page would.
func (i *Issuer) ApproveDevice(ctx context.Context, userCode, user string) error {
	return i.admin.call(ctx, http.MethodPost, "/device/approve", adminapi.DeviceDecision{UserCode: userCode, User: user}, nil)
}

// DenyDevice denies the device code with userCode.
func (i *Issuer) DenyDevice(ctx context.Context, userCode string) error {
	return i.admin.call(ctx, http.MethodPost, "/device/deny", adminapi.DeviceDecision{UserCode: userCode}, nil)
}

// Authorize completes an /oauth/authorize URL as user and returns the
// redirect (the client's callback with code and state).
func (i *Issuer) Authorize(ctx context.Context, authorizeURL, user string) (string, error) {
	var out adminapi.AuthorizeResult
	err := i.admin.call(ctx, http.MethodPost, "/authorize", adminapi.Authorize{URL: authorizeURL, User: user}, &out)
	return out.Redirect, err
}

// PutUser creates or replaces a user and its claims.
func (i *Issuer) PutUser(ctx context.Context, u issuer.UserFixture) error {
	return i.admin.call(ctx, http.MethodPut, "/users/"+u.ID, u, nil)
}

// RotateKeys makes a new signing key active (the old one stays published
// until its tokens expire) and returns the new kid.
func (i *Issuer) RotateKeys(ctx context.Context) (string, error) {
	var out adminapi.KeyRotation
	err := i.admin.call(ctx, http.MethodPost, "/keys/rotate", nil, &out)
	return out.KID, err
}

// Families lists the token families of user ("" for all users).
func (i *Issuer) Families(ctx context.Context, user string) ([]adminapi.Family, error) {
	var out []adminapi.Family
	err := i.admin.call(ctx, http.MethodGet, "/families?user="+user, nil, &out)
	return out, err
}

// adminClient speaks the issuer's admin API.
type adminClient struct {
	base, token string
	http        *http.Client
}

func (a *adminClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+adminapi.PathPrefix+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("admin %s %s: %d %s", method, path, res.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("admin %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}
