package wire

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// CodexClientID is codex's production client id (§0).
const CodexClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// CodexScope is the scope codex asks for (§3.2).
const CodexScope = "openid profile email offline_access api.connectors.read api.connectors.invoke"

// UserAgent is what codex 0.169.0 sends on refresh and revoke (§6.3); the
// client sends its Dialect's version instead.
const UserAgent = "codex_cli_rs/0.169.0 (Debian 12.0.0; x86_64) xterm"

// Exchange is one HTTP round trip, kept for failure messages.
type Exchange struct {
	Method, URL, RequestBody string
	Status                   int
	Header                   http.Header
	Body                     []byte
	Err                      error
	// Decoded is the content coding the answer came in and was decoded
	// from, as codex asked for it ("" when it came as is).
	Decoded string
	// Unreadable is the content coding of an answer codex did not ask for
	// and cannot read (Body is left as it came).
	Unreadable string
}

// JSON decodes the response body as an object (nil if it is not one).
func (e *Exchange) JSON() map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(e.Body))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

// Str is a string field of the JSON body.
func (e *Exchange) Str(k string) string { s, _ := e.JSON()[k].(string); return s }

// String renders the exchange for a failure message, tokens shortened.
func (e *Exchange) String() string {
	if e == nil {
		return "<no exchange>"
	}
	if e.Err != nil {
		return fmt.Sprintf("%s %s → transport error: %v", e.Method, e.URL, e.Err)
	}
	body := string(e.Body)
	if e.Unreadable != "" {
		return fmt.Sprintf("%s %s → %d with Content-Encoding %s, which the codex spoken for did not ask for and cannot read (%d bytes)",
			e.Method, e.URL, e.Status, e.Unreadable, len(e.Body))
	}
	if len(body) > 600 {
		body = body[:600] + "…"
	}
	// An issuer's bytes go into messages and reports as valid UTF-8.
	return fmt.Sprintf("%s %s → %d %s", e.Method, e.URL, e.Status, strings.ToValidUTF8(body, "\uFFFD"))
}

// Client speaks codex's wire protocol to one issuer.
type Client struct {
	Issuer   string // base URL, no trailing slash
	ClientID string
	HTTP     *http.Client
	// Endpoints codex lets users point elsewhere (contract §2.1); NewClient
	// sets codex's defaults under Issuer.
	Endpoints Endpoints
	// Dialect is the codex release the client speaks as (NewClient: the
	// pinned one): its User-Agent, and which compressed answers it reads.
	Dialect Dialect
}

// Endpoints are the URLs codex derives from its knobs rather than from the
// issuer URL (contract §2.1). Device login, the code exchange and authorize
// always live under the issuer.
type Endpoints struct {
	// RefreshURL is CODEX_REFRESH_TOKEN_URL_OVERRIDE (default ISSUER/oauth/token).
	RefreshURL string
	// RevokeURL is CODEX_REVOKE_TOKEN_URL_OVERRIDE (default ISSUER/oauth/revoke).
	RevokeURL string
	// AuthAPIBase is CODEX_AUTHAPI_BASE_URL and
	// CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL (default ISSUER/api/accounts):
	// whoami and agent task registration.
	AuthAPIBase string
	// ChatGPTBase is chatgpt_base_url, also CODEX_AGENT_IDENTITY_JWKS_BASE_URL
	// (default ISSUER/backend-api): the agent-identity JWKS and the accounts
	// check.
	ChatGPTBase string
}

// DefaultEndpoints are codex's derivations for a self-contained issuer.
func DefaultEndpoints(issuer string) Endpoints {
	issuer = strings.TrimRight(issuer, "/")
	return Endpoints{RefreshURL: issuer + "/oauth/token", RevokeURL: issuer + "/oauth/revoke",
		AuthAPIBase: issuer + "/api/accounts", ChatGPTBase: issuer + "/backend-api"}
}

// AgentJWKSURL is where codex fetches agent-identity keys (E11):
// <base>/wham/agent-identities/jwks, or <base>/agent-identities/jwks when
// the base has no /backend-api.
func (e Endpoints) AgentJWKSURL() string {
	if strings.Contains(e.ChatGPTBase, "/backend-api") {
		return e.ChatGPTBase + "/wham/agent-identities/jwks"
	}
	return e.ChatGPTBase + "/agent-identities/jwks"
}

// NewClient returns a client that never follows redirects (codex's
// browser flow reads them), times out like codex does, and bounds what it
// reads (limits.go). Like codex it asks for no compression unless its
// Dialect does (Go's transport would otherwise ask for gzip and decode it
// unseen).
func NewClient(issuer, clientID string) *Client {
	if clientID == "" {
		clientID = CodexClientID
	}
	return &Client{Issuer: strings.TrimRight(issuer, "/"), ClientID: clientID, Endpoints: DefaultEndpoints(issuer), Dialect: DialectOf(""),
		HTTP: &http.Client{
			Timeout:       DefaultRequestTimeout,
			Transport:     NewTransport(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
}

func (c *Client) Do(ctx context.Context, method, rawURL, contentType, body string, hdr map[string]string) *Exchange {
	ex := &Exchange{Method: method, URL: rawURL, RequestBody: body}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, strings.NewReader(body))
	if err != nil {
		ex.Err = err
		return ex
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "*/*")
	if c.Dialect.AcceptEncoding != "" {
		req.Header.Set("Accept-Encoding", c.Dialect.AcceptEncoding)
	}
	for k, v := range hdr {
		if strings.EqualFold(k, "User-Agent") && v == UserAgent && c.Dialect.Version != "" {
			v = c.Dialect.UserAgent()
		}
		req.Header.Set(k, v)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		ex.Err = err
		return ex
	}
	defer res.Body.Close()
	ex.Status, ex.Header = res.StatusCode, res.Header
	ex.Body, ex.Err = io.ReadAll(io.LimitReader(res.Body, MaxResponseBody+1))
	if ex.Err == nil && len(ex.Body) > MaxResponseBody {
		// Reported, never parsed: a prefix of an answer can parse as
		// something the answer is not (an object followed by megabytes).
		ex.Err = fmt.Errorf("%w: read no further (it begins %q)", ErrBodyTooLarge, ex.Body[:min(len(ex.Body), 120)])
		ex.Body = nil
	} else if ex.Err == nil {
		ex.Err = decodeBody(ex, res, req.Header.Get("Accept-Encoding"))
	} else if ex.Err != nil {
		ex.Err = fmt.Errorf("reading the response body: %w", ex.Err)
	}
	return ex
}

// loginHeaders are the headers of the requests codex addresses to
// auth.openai.com (API-key and workload exchanges).
func (c *Client) loginHeaders() map[string]string {
	if c.Dialect.LoginAcceptEncoding == "" {
		return nil
	}
	return map[string]string{"Accept-Encoding": c.Dialect.LoginAcceptEncoding}
}

// TrustCA makes the client trust the PEM certificates in file besides the
// system roots (a deployment behind a private CA).
func (c *Client) TrustCA(file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", file)
	}
	tr := NewTransport()
	if cur, ok := c.HTTP.Transport.(*http.Transport); ok {
		tr = cur.Clone()
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.HTTP.Transport = tr
	return nil
}

// Get fetches a path under the issuer.
func (c *Client) Get(ctx context.Context, path string, hdr map[string]string) *Exchange {
	return c.Do(ctx, http.MethodGet, c.Issuer+path, "", "", hdr)
}

// PostJSON posts a JSON body in codex's compact form.
func (c *Client) PostJSON(ctx context.Context, path, body string, hdr map[string]string) *Exchange {
	return c.Do(ctx, http.MethodPost, c.Issuer+path, "application/json", body, hdr)
}

// PostForm posts fields in the given order, form-encoded as codex does.
func (c *Client) PostForm(ctx context.Context, path string, kv ...string) *Exchange {
	return c.Do(ctx, http.MethodPost, c.Issuer+path, "application/x-www-form-urlencoded", OrderedForm(kv...), nil)
}

// OrderedForm encodes key/value pairs in order (url.Values would sort them).
func OrderedForm(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// ---- device flow (§4)

// DeviceCode is the parsed usercode answer.
type DeviceCode struct {
	DeviceAuthID string
	UserCode     string
	// Interval is the raw JSON of the interval field ("" if absent).
	IntervalRaw string
}

// IntervalIsString reports whether interval is a JSON string of an integer,
// the only form codex accepts (§4.1).
func (d DeviceCode) IntervalIsString() bool {
	var s string
	if json.Unmarshal([]byte(d.IntervalRaw), &s) != nil {
		return false
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// RequestDeviceCode is E6: POST usercode {"client_id":…}.
func (c *Client) RequestDeviceCode(ctx context.Context) (DeviceCode, *Exchange) {
	ex := c.PostJSON(ctx, "/api/accounts/deviceauth/usercode", `{"client_id":`+jsonString(c.ClientID)+`}`, nil)
	var d DeviceCode
	var raw map[string]json.RawMessage
	if ex.Err == nil && json.Unmarshal(ex.Body, &raw) == nil {
		_ = json.Unmarshal(raw["device_auth_id"], &d.DeviceAuthID)
		if json.Unmarshal(raw["user_code"], &d.UserCode) != nil || d.UserCode == "" {
			_ = json.Unmarshal(raw["usercode"], &d.UserCode)
		}
		d.IntervalRaw = string(raw["interval"])
	}
	return d, ex
}

// DevicePoll is one E7 poll as codex sends it.
func (c *Client) DevicePoll(ctx context.Context, d DeviceCode) *Exchange {
	return c.PostJSON(ctx, "/api/accounts/deviceauth/token", `{"device_auth_id":`+jsonString(d.DeviceAuthID)+`,"user_code":`+jsonString(d.UserCode)+`}`, nil)
}

// DeviceGrant is a successful poll (§4.2): all three fields required.
type DeviceGrant struct {
	AuthorizationCode, CodeChallenge, CodeVerifier string
}

// ParseDeviceGrant applies codex's decoding of a 2xx poll.
func ParseDeviceGrant(ex *Exchange) (DeviceGrant, error) {
	var raw map[string]any
	if err := json.Unmarshal(ex.Body, &raw); err != nil {
		return DeviceGrant{}, fmt.Errorf("error decoding response body: %v", err)
	}
	var g DeviceGrant
	for k, dst := range map[string]*string{"authorization_code": &g.AuthorizationCode, "code_challenge": &g.CodeChallenge, "code_verifier": &g.CodeVerifier} {
		s, ok := raw[k].(string)
		if !ok {
			return g, fmt.Errorf("error decoding response body: %s missing or not a string", k)
		}
		*dst = s
	}
	return g, nil
}

// IsPending is codex's pending test: 403 or 404 (§4.2).
func IsPending(status int) bool { return status == 403 || status == 404 }

// DeviceCallback is the redirect URI codex redeems device codes with.
func (c *Client) DeviceCallback() string { return c.Issuer + "/deviceauth/callback" }

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

// ---- browser flow (§3)

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

// ---- refresh and revoke (§6, §7)

// Refresh is E4 as 0.169.0 sends it: JSON, sorted keys, codex headers.
func (c *Client) Refresh(ctx context.Context, refreshToken, reason string) *Exchange {
	return c.RefreshEncoded(ctx, EncodingJSON, refreshToken, reason)
}

// Encoding of a request body.
type Encoding string

// Encodings of the token endpoint.
const (
	EncodingJSON Encoding = "json"
	EncodingForm Encoding = "form"
)

// RefreshEncoded is E4 in the given encoding: codex's JSON, or the same
// fields form-encoded (RFC 6749 §6), which the suite uses to classify refresh
// errors of an issuer that refuses JSON.
func (c *Client) RefreshEncoded(ctx context.Context, enc Encoding, refreshToken, reason string) *Exchange {
	hdr := map[string]string{"originator": "codex_cli_rs", "User-Agent": UserAgent}
	if enc == EncodingForm {
		return c.Do(ctx, http.MethodPost, c.Endpoints.RefreshURL, "application/x-www-form-urlencoded", OrderedForm("client_id", c.ClientID,
			"grant_type", "refresh_token", "refresh_reason", reason, "refresh_token", refreshToken), hdr)
	}
	body := `{"client_id":` + jsonString(c.ClientID) + `,"grant_type":"refresh_token","refresh_reason":` + jsonString(reason) +
		`,"refresh_token":` + jsonString(refreshToken) + `}`
	return c.Do(ctx, http.MethodPost, c.Endpoints.RefreshURL, "application/json", body, hdr)
}

// RefreshResult is what codex persists from a 2xx refresh (§6.4): every
// field optional; a present id_token must parse.
type RefreshResult struct {
	IDToken, AccessToken, RefreshToken string
}

// ParseRefresh applies §6.4.
func ParseRefresh(ex *Exchange) (RefreshResult, error) {
	var raw map[string]any
	if err := json.Unmarshal(ex.Body, &raw); err != nil || raw == nil {
		return RefreshResult{}, fmt.Errorf("refresh response is not a JSON object (codex treats this as transient): %s", errOrNull(err))
	}
	var r RefreshResult
	if v, ok := raw["id_token"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return r, fmt.Errorf("id_token is not a string")
		}
		if _, err := ParseIDToken(s); err != nil {
			return r, fmt.Errorf("refreshed id_token is not usable (codex persists nothing): %v", err)
		}
		r.IDToken = s
	}
	r.AccessToken, _ = raw["access_token"].(string)
	r.RefreshToken, _ = raw["refresh_token"].(string)
	return r, nil
}

// Revoke is E5 (§7): JSON, with client_id for refresh tokens only.
func (c *Client) Revoke(ctx context.Context, token, hint string) *Exchange {
	body := `{"token":` + jsonString(token) + `,"token_type_hint":` + jsonString(hint)
	if hint == "refresh_token" {
		body += `,"client_id":` + jsonString(c.ClientID)
	}
	body += "}"
	return c.Do(ctx, http.MethodPost, c.Endpoints.RevokeURL, "application/json", body, map[string]string{"originator": "codex_cli_rs", "User-Agent": UserAgent})
}

// RevokeForm is E5 form-encoded (RFC 7009 §2.1).
func (c *Client) RevokeForm(ctx context.Context, token, hint string) *Exchange {
	return c.Do(ctx, http.MethodPost, c.Endpoints.RevokeURL, "application/x-www-form-urlencoded",
		OrderedForm("token", token, "token_type_hint", hint, "client_id", c.ClientID), nil)
}

func urlUnescape(s string) (string, error) { return url.QueryUnescape(s) }

// WorkloadExchange is E12 as 0.169.0 sends it (§9.2): form, no User-Agent.
func (c *Client) WorkloadExchange(ctx context.Context, assertion, ruleID, wiContext string) *Exchange {
	kv := []string{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion", assertion, "federation_rule_id", ruleID}
	if wiContext != "" {
		kv = append(kv, "workload_identity_context", wiContext)
	}
	return c.Do(ctx, http.MethodPost, c.Issuer+"/oauth/token", "application/x-www-form-urlencoded", OrderedForm(kv...), c.loginHeaders())
}

func errOrNull(err error) string {
	if err == nil {
		return "null"
	}
	return err.Error()
}
