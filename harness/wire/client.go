package wire

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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

// RootsWith is the system's trusted roots plus the CA certificates of a PEM
// file (a deployment's private CA).
func RootsWith(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// TrustCA makes the client trust the PEM certificates in file besides the
// system roots (a deployment behind a private CA).
func (c *Client) TrustCA(file string) error {
	pool, err := RootsWith(file)
	if err != nil {
		return err
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

func urlUnescape(s string) (string, error) { return url.QueryUnescape(s) }
