package wire

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// The browser flow (§3), and the code exchange (E2) the device flow ends with too.

// ExchangeCode is E2 in 0.169.0's field order (§3.4).
func (c *Client) ExchangeCode(ctx context.Context, code, redirectURI, verifier string) *Exchange {
	return c.PostForm(ctx, "/oauth/token", "grant_type", "authorization_code", "client_id", c.ClientID, "code", code,
		"redirect_uri", redirectURI, "code_verifier", verifier)
}

// Tokens is a token-endpoint success body.
type Tokens struct {
	IDToken, AccessToken, RefreshToken string
	HasIDToken, HasRefreshToken        bool
}

// ParseTokens applies codex's requirements on a login token response
// (§3.4): id_token, access_token and refresh_token are required strings.
func ParseTokens(ex *Exchange) (Tokens, error) {
	var raw map[string]any
	if err := json.Unmarshal(ex.Body, &raw); err != nil {
		return Tokens{}, fmt.Errorf("token response is not JSON: %v", err)
	}
	var t Tokens
	var ok bool
	if t.IDToken, ok = raw["id_token"].(string); !ok {
		return t, fmt.Errorf("OAuth token response is invalid: id_token missing or not a string")
	}
	t.HasIDToken = true
	if t.AccessToken, ok = raw["access_token"].(string); !ok {
		return t, fmt.Errorf("OAuth token response is invalid: access_token missing or not a string")
	}
	if t.RefreshToken, ok = raw["refresh_token"].(string); !ok {
		return t, fmt.Errorf("OAuth token response is invalid: refresh_token missing or not a string")
	}
	t.HasRefreshToken = true
	return t, nil
}

// PKCE is a verifier and its S256 challenge.
type PKCE struct{ Verifier, Challenge string }

// NewPKCE makes codex's PKCE pair: 64 random bytes → 86-character verifier.
func NewPKCE() PKCE {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	return PKCE{Verifier: v, Challenge: S256(v)}
}

// S256 is the PKCE transform.
func S256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewState is codex's state: 32 random bytes, unpadded base64url.
func NewState() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CodexRedirect is the 0.169.0 callback on port (1455, or 1457 fallback).
func CodexRedirect(port int) string { return fmt.Sprintf("http://127.0.0.1:%d/auth/callback", port) }

// AuthorizeURL builds E1 exactly as 0.169.0 does: parameter order,
// form-style encoding with '+' for spaces (§3.2). extra pairs are appended.
func (c *Client) AuthorizeURL(redirectURI string, p PKCE, state string, extra ...string) string {
	kv := []string{"response_type", "code", "client_id", c.ClientID, "redirect_uri", redirectURI,
		"code_challenge", p.Challenge, "code_challenge_method", "S256", "state", state, "scope", CodexScope,
		"id_token_add_organizations", "true", "codex_cli_simplified_flow", "true", "originator", "codex_cli_rs"}
	return c.Issuer + "/oauth/authorize?" + OrderedForm(append(kv, extra...)...)
}

// Callback is the query a browser delivers to codex's callback.
type Callback struct {
	URL                         *url.URL
	Code, State, Error, ErrDesc string
}

// ParseCallback reads a redirect location aimed at redirectURI.
func ParseCallback(location, redirectURI string) (Callback, error) {
	u, err := url.Parse(location)
	if err != nil {
		return Callback{}, fmt.Errorf("redirect %q: %v", location, err)
	}
	want, _ := url.Parse(redirectURI)
	if u.Scheme != want.Scheme || u.Host != want.Host || u.Path != want.Path {
		return Callback{}, fmt.Errorf("redirect goes to %s://%s%s, not the redirect_uri %s", u.Scheme, u.Host, u.Path, redirectURI)
	}
	q := u.Query()
	return Callback{URL: u, Code: q.Get("code"), State: q.Get("state"), Error: q.Get("error"), ErrDesc: q.Get("error_description")}, nil
}

// ExchangeAPIKey is E3, the id_token → API key token exchange (§3.6).
func (c *Client) ExchangeAPIKey(ctx context.Context, idToken string) *Exchange {
	return c.Do(ctx, http.MethodPost, c.Issuer+"/oauth/token", "application/x-www-form-urlencoded", OrderedForm("grant_type",
		"urn:ietf:params:oauth:grant-type:token-exchange", "client_id", c.ClientID, "requested_token", "openai-api-key",
		"subject_token", idToken, "subject_token_type", "urn:ietf:params:oauth:token-type:id_token"), c.loginHeaders())
}
