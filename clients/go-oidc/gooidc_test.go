// Package gooidc_test proves the reference issuer is a correct OpenID
// provider for the Go libraries people use: github.com/coreos/go-oidc/v3
// and golang.org/x/oauth2 (versions pinned in go.mod), with their default
// settings. Where a library would need a non-default option to work, that
// is a bug in the issuer, not in this test.
package gooidc_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/codexauth/codexauth/issuer/issuertest"
)

const (
	clientID = "my-go-app"
	redirect = "http://127.0.0.1:5556/auth/callback"
)

// exchangeLog records what the libraries sent (observation only: the
// transport passes every request on unchanged).
type exchangeLog struct {
	mu   sync.Mutex
	rows []exchangeRow
}

type exchangeRow struct {
	method, path string
	status       int
	basic        bool
}

func (l *exchangeLog) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	row := exchangeRow{method: req.Method, path: req.URL.Path, basic: strings.HasPrefix(req.Header.Get("Authorization"), "Basic ")}
	if err == nil {
		row.status = res.StatusCode
	}
	l.mu.Lock()
	l.rows = append(l.rows, row)
	l.mu.Unlock()
	return res, err
}

// tokenCalls are the token-endpoint exchanges so far.
func (l *exchangeLog) tokenCalls() []exchangeRow {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []exchangeRow
	for _, r := range l.rows {
		if r.path == "/oauth/token" {
			out = append(out, r)
		}
	}
	return out
}

func randomString(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// idClaims are the id_token claims go-oidc's IDToken does not expose.
type idClaims struct {
	AuthTime int64  `json:"auth_time"`
	Email    string `json:"email"`
}

func claimsOf(t *testing.T, tok *oidc.IDToken) idClaims {
	t.Helper()
	var c idClaims
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func header(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	var h map[string]any
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("id_token header is not base64url JSON: %q", raw)
	}
	return h
}

func TestGoOIDCAndOAuth2WithDefaultSettings(t *testing.T) {
	// A 5 s access-token lifetime is inside x/oauth2's 10 s expiry margin:
	// its TokenSource refreshes at every Token() call, by its own rule.
	iss := issuertest.New(t, issuertest.WithClient(clientID, redirect), issuertest.WithAccessTTL(5*time.Second))
	log := &exchangeLog{}
	ctx := oidc.ClientContext(context.Background(), &http.Client{Transport: log, Timeout: 15 * time.Second})

	// Discovery (OIDC Discovery §4).
	provider, err := oidc.NewProvider(ctx, iss.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
		Userinfo   string `json:"userinfo_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.Revocation == "" || meta.Userinfo == "" {
		t.Fatalf("discovery lacks revocation_endpoint or userinfo_endpoint: %+v %v", meta, err)
	}
	t.Logf("go-oidc + x/oauth2: flow: discovery: issuer %s, token %s, userinfo %s", iss.URL, provider.Endpoint().TokenURL, provider.UserInfoEndpoint())

	// Authorization code + PKCE (S256) + nonce, approved headlessly as alice.
	conf := &oauth2.Config{ClientID: clientID, Endpoint: provider.Endpoint(), RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
	pkce, state, nonce := oauth2.GenerateVerifier(), randomString(t), randomString(t)
	loc, err := iss.Authorize(ctx, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce)), "alice")
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	cb, err := url.Parse(loc)
	if err != nil || cb.Query().Get("state") != state || cb.Query().Get("code") == "" {
		t.Fatalf("callback %q: want a code and state %q", loc, state)
	}
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if tok.RefreshToken == "" || rawID == "" {
		t.Fatalf("code exchange answered no refresh token or id_token: %+v", tok)
	}
	t.Logf("go-oidc + x/oauth2: flow: authorization code + PKCE S256 + nonce: code exchanged, refresh token and id_token received")

	// id_token verification: signature through the JWKS, iss, aud, exp.
	verifier := provider.Verifier(&oidc.Config{ClientID: clientID})
	idTok, err := verifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("id_token verification: %v", err)
	}
	if idTok.Nonce != nonce {
		t.Fatalf("id_token nonce %q, want %q (OIDC Core §3.1.3.7)", idTok.Nonce, nonce)
	}
	first := claimsOf(t, idTok)
	if first.AuthTime == 0 || first.AuthTime > idTok.IssuedAt.Unix() {
		t.Fatalf("auth_time %d, iat %d", first.AuthTime, idTok.IssuedAt.Unix())
	}
	t.Logf("go-oidc + x/oauth2: flow: id_token verified (kid %v): sub %s, nonce matches, auth_time %d", header(t, rawID)["kid"], idTok.Subject, first.AuthTime)

	// UserInfo (OIDC Core §5.3) with the access token.
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != idTok.Subject || info.Email != first.Email {
		t.Fatalf("userinfo sub %q email %q, want %q %q", info.Subject, info.Email, idTok.Subject, first.Email)
	}
	t.Logf("go-oidc + x/oauth2: flow: userinfo: sub %s, email %s", info.Subject, info.Email)

	// TokenSource refresh, a minute (of the issuer's clock) later.
	iss.Advance(time.Minute)
	ts := conf.TokenSource(ctx, tok)
	refreshed, err := ts.Token()
	if err != nil {
		t.Fatalf("TokenSource refresh: %v", err)
	}
	if refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatalf("the refresh did not renew the access token and rotate the refresh token")
	}
	rawID2, _ := refreshed.Extra("id_token").(string)
	idTok2, err := verifier.Verify(ctx, rawID2)
	if err != nil {
		t.Fatalf("refreshed id_token verification: %v", err)
	}
	if idTok2.Subject != idTok.Subject || claimsOf(t, idTok2).AuthTime != first.AuthTime || idTok2.Nonce != nonce || !idTok2.IssuedAt.After(idTok.IssuedAt) {
		t.Fatalf("refreshed id_token: sub %q auth_time %d nonce %q iat %v; want sub, auth_time and nonce kept (OIDC Core §12.2)",
			idTok2.Subject, claimsOf(t, idTok2).AuthTime, idTok2.Nonce, idTok2.IssuedAt)
	}
	t.Logf("go-oidc + x/oauth2: flow: TokenSource refresh: new access token, rotated refresh token, id_token verified with the same sub, auth_time and nonce")

	// Key rotation: the next id_token is signed by the new key, which the
	// verifier fetches on sight of its kid; tokens of the old key still verify.
	kid, err := iss.RotateKeys(ctx)
	if err != nil {
		t.Fatalf("rotate keys: %v", err)
	}
	rotated, err := ts.Token()
	if err != nil {
		t.Fatalf("refresh after key rotation: %v", err)
	}
	rawID3, _ := rotated.Extra("id_token").(string)
	if got := header(t, rawID3)["kid"]; got != kid {
		t.Fatalf("id_token after rotation signed by kid %v, want the new key %s", got, kid)
	}
	if _, err := verifier.Verify(ctx, rawID3); err != nil {
		t.Fatalf("id_token of the new key: %v", err)
	}
	if _, err := verifier.Verify(ctx, rawID2); err != nil {
		t.Fatalf("id_token of the retired key no longer verifies: %v", err)
	}
	t.Logf("go-oidc + x/oauth2: flow: key rotation: new kid %s verified after a JWKS refetch; the retired key's id_token still verifies", kid)

	// Revocation (RFC 7009), then the TokenSource can no longer refresh.
	res, err := http.PostForm(meta.Revocation, url.Values{"token": {rotated.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {clientID}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revocation: %d", res.StatusCode)
	}
	_, err = ts.Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "refresh_token_invalidated" {
		t.Fatalf("refresh after revocation: %v, want a RetrieveError refresh_token_invalidated", err)
	}
	t.Logf("go-oidc + x/oauth2: flow: revocation: refresh token revoked; the TokenSource's next refresh fails with %s", re.ErrorCode)

	// x/oauth2 authenticates in HTTP Basic first (AuthStyleAutoDetect): the
	// issuer must accept that at once, never make the library fall back.
	calls := log.tokenCalls()
	for i, c := range calls[:len(calls)-1] {
		if c.status != http.StatusOK || !c.basic {
			t.Fatalf("token call %d: status %d, basic %v: x/oauth2's default client authentication was not accepted at once (%+v)", i, c.status, c.basic, calls)
		}
	}
	t.Logf("go-oidc + x/oauth2: flow: %d token-endpoint calls, all with the client id in HTTP Basic (x/oauth2's default), none refused", len(calls))
}
