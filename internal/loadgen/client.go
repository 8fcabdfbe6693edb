// Package loadgen drives an OAuth issuer over HTTP the way a fleet of codex
// clients would, and measures it: device sign-in (contract §4) for each
// client, then every client refreshes its own chain (contract §6.3) as fast
// as the issuer answers, checking every answer. It also measures bearer
// validations through POST /internal/codex-auth/validate, the time a server
// takes to become ready, and seeds stores with many live families.
//
// scripts/bench.sh runs it against codexauth on each store and against
// oauth2-mock-server; nothing here runs in the test suite's timing.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// CodexClientID is the client id codex 0.169.0 signs in with.
const CodexClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// Kind is how a target speaks.
type Kind string

// Target kinds.
const (
	// Codexauth: device sign-in, JSON refresh bodies as codex sends them,
	// rotation expected (each refresh token is used once).
	Codexauth Kind = "codexauth"
	// MockServer: oauth2-mock-server, which has no device flow and keeps no
	// state: the refresh grant answers any refresh token with a fresh one.
	MockServer Kind = "oauth2-mock-server"
)

// NewHTTPClient keeps one idle connection per worker, so every request of a
// worker reuses its connection (as codex does) and no run measures dialing.
func NewHTTPClient(workers int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        workers * 2,
		MaxIdleConnsPerHost: workers * 2,
		MaxConnsPerHost:     workers * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// tokenAnswer is the part of a token-endpoint answer (RFC 6749 §5.1) the
// generator checks.
type tokenAnswer struct {
	IDToken      string `json:"id_token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// post sends body (JSON when ctype says so, else a form) and decodes a JSON
// answer into out. A non-2xx status is an error carrying the body's error
// code when there is one.
func post(ctx context.Context, c *http.Client, u, ctype string, body []byte, header http.Header, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read answer of %s: %w", u, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, fmt.Errorf("%s: status %d %s", u, resp.StatusCode, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: decode answer: %w", u, err)
		}
	}
	return resp.StatusCode, nil
}

func postJSON(ctx context.Context, c *http.Client, u string, in any, header http.Header, out any) (int, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	return post(ctx, c, u, "application/json", b, header, out)
}

func postForm(ctx context.Context, c *http.Client, u string, form url.Values, out any) (int, error) {
	return post(ctx, c, u, "application/x-www-form-urlencoded", []byte(form.Encode()), nil, out)
}

// SignIn performs codex's device flow against a codexauth issuer started
// with --auto-approve (contract §4): user code, one poll (approved at first
// poll), then the authorization-code exchange with the verifier the poll
// returned. It returns the first token answer.
func SignIn(ctx context.Context, c *http.Client, base string) (tokenAnswer, error) {
	base = strings.TrimRight(base, "/")
	var uc struct {
		DeviceAuthID string `json:"device_auth_id"`
		UserCode     string `json:"user_code"`
	}
	if _, err := postJSON(ctx, c, base+"/api/accounts/deviceauth/usercode", map[string]string{"client_id": CodexClientID}, nil, &uc); err != nil {
		return tokenAnswer{}, fmt.Errorf("device user code: %w", err)
	}
	var poll struct {
		AuthorizationCode string `json:"authorization_code"`
		CodeVerifier      string `json:"code_verifier"`
	}
	for attempt := 0; ; attempt++ {
		status, err := postJSON(ctx, c, base+"/api/accounts/deviceauth/token",
			map[string]string{"device_auth_id": uc.DeviceAuthID, "user_code": uc.UserCode}, nil, &poll)
		if err == nil {
			break
		}
		if status != http.StatusForbidden || attempt > 50 {
			return tokenAnswer{}, fmt.Errorf("device poll (is the issuer started with --auto-approve?): %w", err)
		}
		select {
		case <-ctx.Done():
			return tokenAnswer{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	var tok tokenAnswer
	_, err := postForm(ctx, c, base+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {CodexClientID},
		"code": {poll.AuthorizationCode}, "redirect_uri": {base + "/deviceauth/callback"}, "code_verifier": {poll.CodeVerifier}}, &tok)
	if err != nil {
		return tokenAnswer{}, fmt.Errorf("code exchange: %w", err)
	}
	if tok.RefreshToken == "" || tok.AccessToken == "" || tok.IDToken == "" {
		return tokenAnswer{}, fmt.Errorf("code exchange answered without id, access or refresh token")
	}
	return tok, nil
}

// refreshOnce presents refresh at the token endpoint as the target expects:
// codex's JSON body (contract §6.3) for codexauth, a form for the mock.
func refreshOnce(ctx context.Context, c *http.Client, kind Kind, tokenURL, refresh string) (tokenAnswer, error) {
	var tok tokenAnswer
	var err error
	if kind == MockServer {
		_, err = postForm(ctx, c, tokenURL, url.Values{"grant_type": {"refresh_token"}, "client_id": {CodexClientID}, "refresh_token": {refresh}}, &tok)
	} else {
		_, err = postJSON(ctx, c, tokenURL, refreshBody{ClientID: CodexClientID, GrantType: "refresh_token", RefreshReason: "unauthorized", RefreshToken: refresh}, nil, &tok)
	}
	return tok, err
}

// refreshBody is codex 0.169.0's refresh request, field for field.
type refreshBody struct {
	ClientID      string `json:"client_id"`
	GrantType     string `json:"grant_type"`
	RefreshReason string `json:"refresh_reason"`
	RefreshToken  string `json:"refresh_token"`
}
