// Package foreignissuer is a compact, in-memory implementation of the
// sign-in server the OpenAI Codex CLI 0.169.0 talks to, written from the
// protocol documents (docs/codex-issuer-contract.md, the wire capture, and
// docs/requirements.md) without any code of this module: it imports only
// the standard library and go-jose. It is a test fixture for the
// conformance harness — "a deployment nobody controls": no admin API, one
// user ("alice") who signs in by herself, and switchable behaviours, some
// conformant and some defective (Options, Variants).
//
// Paths are relative to the base URL (URL). With Options.SplitLayout the
// refresh and revoke endpoints, the auth API and the ChatGPT backend move
// to where codex's own knobs can point (contract §2.1).
package foreignissuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"sync"
	"time"
)

// Options switch behaviours. Each is conformant unless marked as a defect.
type Options struct {
	// GraceWindow is the legitimate reuse grace window: a rotated-out
	// refresh token re-presented within it gets the very same successor
	// back (never a second branch). 0: every re-presentation is reuse.
	GraceWindow time.Duration
	// SplitLayout moves endpoints where codex's knobs reach them (contract
	// §2.1): refresh to /v2/token/refresh (CODEX_REFRESH_TOKEN_URL_OVERRIDE;
	// the authorization_code grant stays at /oauth/token), revoke to
	// /v2/token/revoke (CODEX_REVOKE_TOKEN_URL_OVERRIDE), the auth API to
	// /accounts-api (CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL,
	// CODEX_AUTHAPI_BASE_URL) and the ChatGPT backend to /chatgpt
	// (chatgpt_base_url). The standard locations then answer 404.
	SplitLayout bool
	// ExtraFields adds unknown fields to every JSON answer and extra
	// metadata to discovery; clients must ignore them.
	ExtraFields bool

	// RefreshFormOnlyOneCode is a defect: the token endpoint refuses JSON
	// bodies (415), so codex's JSON refresh (§6.3) never works, and every
	// refresh error (reuse, revoked, unknown) is 401 refresh_token_expired.
	RefreshFormOnlyOneCode bool
	// SameSecondTokens is a defect: the sign-in path (the code exchange)
	// derives the access token's jti and claims from (user, second), so two
	// sign-ins of one user within a second mint identical tokens; the token
	// store's unique index on the access token then refuses the second one
	// with a 500 — after its authorization code was consumed.
	SameSecondTokens bool
	// AnyClientID is a defect: /oauth/authorize hands a code to any client_id.
	AnyClientID bool
	// TaskRegister404 is a defect: agent task registration is a 404 for everyone.
	TaskRegister404 bool

	now func() time.Time // tests replace the clock
}

// CodexClientID is the one registered client (contract §0).
const CodexClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// registeredRedirects are codex's loopback callbacks (contract §3.1, §3.2).
var registeredRedirects = map[string]bool{
	"http://127.0.0.1:1455/auth/callback": true,
	"http://127.0.0.1:1457/auth/callback": true,
	"http://localhost:1455/auth/callback": true,
	"http://localhost:1457/auth/callback": true,
}

// user is an account of this deployment.
type user struct {
	name, id, accountID, orgID, email, plan string
}

// alice is the one person who signs in (she approves by herself).
var alice = user{name: "alice", id: "user-fi-alice-0001", accountID: "fi-acct-7c1d2e", orgID: "org-fi-alice",
	email: "alice@foreign.example", plan: "plus"}

// layout says where the movable endpoints live (paths under URL).
type layout struct{ refresh, revoke, authAPI, chatgpt string }

func (o Options) layout() layout {
	if o.SplitLayout {
		return layout{refresh: "/v2/token/refresh", revoke: "/v2/token/revoke", authAPI: "/accounts-api", chatgpt: "/chatgpt"}
	}
	return layout{refresh: "/oauth/token", revoke: "/oauth/revoke", authAPI: "/api/accounts", chatgpt: "/backend-api"}
}

// Issuer is a running foreign issuer.
type Issuer struct {
	// URL is the base URL (http://127.0.0.1:PORT), the tokens' iss.
	URL string
	// InternalSecret authenticates the validate endpoint (X-Internal-Secret).
	InternalSecret string

	opts     Options
	lay      layout
	srv      *http.Server
	tokenKey *signingKey // id and access tokens
	agentKey *signingKey // agent identity JWTs (the "ChatGPT backend" key)

	mu            sync.Mutex
	devices       map[string]*deviceCode
	codes         map[[32]byte]*authCode
	refresh       map[[32]byte]*refreshRecord
	access        map[string]*accessRecord // by jti
	accessIndex   map[[32]byte]bool        // unique index on the access token itself
	agents        map[string]*agent
	tasks         map[string]*task
	registrations map[[32]byte]string    // byte-identical registration → its task
	assertions    map[[32]byte]time.Time // accepted AgentAssertions → when they may be forgotten
	pats          map[[32]byte]user
	pat           string
}

// Start runs an issuer on a free loopback port until Close.
func Start(ctx context.Context, o Options) (*Issuer, error) {
	if o.now == nil {
		o.now = time.Now
	}
	iss := &Issuer{opts: o, lay: o.layout(), InternalSecret: "fi-secret-" + randomID(16),
		devices: map[string]*deviceCode{}, codes: map[[32]byte]*authCode{}, refresh: map[[32]byte]*refreshRecord{},
		access: map[string]*accessRecord{}, accessIndex: map[[32]byte]bool{}, agents: map[string]*agent{},
		tasks: map[string]*task{}, registrations: map[[32]byte]string{}, assertions: map[[32]byte]time.Time{},
		pats: map[[32]byte]user{}}
	var err error
	if iss.tokenKey, err = newSigningKey("fi-tok-"); err != nil {
		return nil, err
	}
	if iss.agentKey, err = newSigningKey("fi-agent-"); err != nil {
		return nil, err
	}
	iss.pat = "at-fi-" + randomID(24)
	iss.pats[digest(iss.pat)] = alice
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("foreign issuer: listen: %w", err)
	}
	iss.URL = "http://" + ln.Addr().String()
	iss.srv = &http.Server{Handler: iss.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = iss.srv.Serve(ln) }()
	return iss, nil
}

// Close stops the server.
func (iss *Issuer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if iss.srv.Shutdown(ctx) != nil {
		_ = iss.srv.Close()
	}
}

// Options reports the behaviours this issuer runs with.
func (iss *Issuer) Options() Options { return iss.opts }

// RefreshURL is where refresh_token grants go (codex: CODEX_REFRESH_TOKEN_URL_OVERRIDE).
func (iss *Issuer) RefreshURL() string { return iss.URL + iss.lay.refresh }

// RevokeURL is the RFC 7009 endpoint (codex: CODEX_REVOKE_TOKEN_URL_OVERRIDE).
func (iss *Issuer) RevokeURL() string { return iss.URL + iss.lay.revoke }

// AuthAPIBaseURL is codex's <authapi> (task registration, whoami; §1 E8, E9).
func (iss *Issuer) AuthAPIBaseURL() string { return iss.URL + iss.lay.authAPI }

// ChatGPTBaseURL is codex's chatgpt_base_url (agent JWKS, accounts check; §1 E11, E13).
func (iss *Issuer) ChatGPTBaseURL() string { return iss.URL + iss.lay.chatgpt }

// ValidateURL is the gateway validate endpoint.
func (iss *Issuer) ValidateURL() string { return iss.URL + "/internal/codex-auth/validate" }

// PersonalAccessToken is alice's personal access token (§9.1).
func (iss *Issuer) PersonalAccessToken() string { return iss.pat }

func (iss *Issuer) now() time.Time { return iss.opts.now() }

func (iss *Issuer) routes() http.Handler {
	m := http.NewServeMux()
	l := iss.lay
	m.HandleFunc("GET /.well-known/openid-configuration", iss.discovery)
	m.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) { iss.writeJSON(w, 200, iss.tokenKey.jwks()) })
	m.HandleFunc("GET /oauth/authorize", iss.authorize)
	if iss.opts.SplitLayout {
		m.HandleFunc("POST /oauth/token", iss.tokenEndpoint(grantAuthorizationCode, grantTokenExchange))
		m.HandleFunc("POST "+l.refresh, iss.tokenEndpoint(grantRefreshToken))
	} else {
		m.HandleFunc("POST /oauth/token", iss.tokenEndpoint(grantAuthorizationCode, grantRefreshToken, grantTokenExchange))
	}
	m.HandleFunc("POST "+l.revoke, iss.revoke)
	m.HandleFunc("POST /api/accounts/deviceauth/usercode", iss.deviceUserCode)
	m.HandleFunc("POST /api/accounts/deviceauth/token", iss.devicePoll)
	m.HandleFunc("GET /codex/device", iss.devicePage)
	m.HandleFunc("GET /deviceauth/callback", func(w http.ResponseWriter, _ *http.Request) {
		page(w, 200, "Signed in", "You can close this window and return to codex.")
	})
	if !iss.opts.TaskRegister404 {
		m.HandleFunc("POST "+l.authAPI+"/v1/agent/{rid}/task/register", iss.registerTask)
	}
	m.HandleFunc("GET "+l.authAPI+"/v1/user-auth-credential/whoami", iss.whoami)
	agentJWKS := func(w http.ResponseWriter, _ *http.Request) { iss.writeJSON(w, 200, iss.agentKey.jwks()) }
	m.HandleFunc("GET "+l.chatgpt+"/wham/agent-identities/jwks", agentJWKS)
	if iss.opts.SplitLayout { // a base without /backend-api (§1 E11)
		m.HandleFunc("GET "+l.chatgpt+"/agent-identities/jwks", agentJWKS)
	}
	m.HandleFunc("GET /agent-identities/jwks", agentJWKS)
	m.HandleFunc("GET "+l.chatgpt+"/wham/accounts/check", iss.accountsCheck)
	if iss.opts.SplitLayout { // codex's path for a base without /backend-api (§1 E13)
		m.HandleFunc("GET "+l.chatgpt+"/api/codex/accounts/check", iss.accountsCheck)
	}
	m.HandleFunc("POST /internal/codex-auth/validate", iss.validate)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { iss.writeJSON(w, 200, map[string]any{"status": "ok"}) })
	return m
}

// discovery serves OpenID Connect Discovery 1.0 §3 metadata.
func (iss *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	doc := map[string]any{
		"issuer":                                iss.URL,
		"authorization_endpoint":                iss.URL + "/oauth/authorize",
		"token_endpoint":                        iss.URL + "/oauth/token",
		"jwks_uri":                              iss.URL + "/.well-known/jwks.json",
		"revocation_endpoint":                   iss.RevokeURL(),
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{grantAuthorizationCode, grantRefreshToken, grantTokenExchange},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		// codex's device flow is not RFC 8628: its endpoints get names of their own.
		"codex_device_usercode_endpoint": iss.URL + "/api/accounts/deviceauth/usercode",
		"codex_device_token_endpoint":    iss.URL + "/api/accounts/deviceauth/token",
		"codex_device_verification_uri":  iss.URL + "/codex/device",
	}
	if iss.opts.SplitLayout {
		doc["codex_refresh_endpoint"] = iss.RefreshURL()
	}
	if iss.opts.ExtraFields {
		doc["service_documentation"] = iss.URL + "/docs"
		doc["claims_supported"] = []string{"sub", "email", "https://api.openai.com/auth"}
		doc["x_foreign_deployment"] = map[string]any{"region": "test-1", "replicas": 3}
	}
	iss.writeJSON(w, 200, doc)
}

// writeJSON answers body as JSON (no-store: it may carry tokens, RFC 6749
// §5.1); with ExtraFields it carries unknown fields of several JSON types.
func (iss *Issuer) writeJSON(w http.ResponseWriter, status int, body map[string]any) {
	if iss.opts.ExtraFields {
		extra := map[string]any{"x_request_id": randomID(8), "x_served_by": "foreign-issuer",
			"x_trace": map[string]any{"sampled": true, "span": 7}, "x_notice": nil, "x_tags": []string{"a", "b"}}
		for k, v := range body {
			extra[k] = v
		}
		body = extra
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// apiError is an OAuth-style error answer (RFC 6749 §5.2).
type apiError struct {
	status      int
	code, descr string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.descr) }

func errorf(status int, code, format string, a ...any) *apiError {
	return &apiError{status: status, code: code, descr: fmt.Sprintf(format, a...)}
}

func (iss *Issuer) fail(w http.ResponseWriter, e *apiError) {
	iss.writeJSON(w, e.status, map[string]any{"error": e.code, "error_description": e.descr})
}

// page answers a small HTML page.
func page(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title></head><body><h1>%s</h1><p>%s</p></body></html>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg))
}

// readJSON decodes a JSON object body of at most 64 KiB into dst.
func readJSON(r *http.Request, dst any) error {
	body := http.MaxBytesReader(nil, r.Body, 64<<10)
	dec := json.NewDecoder(body)
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("body is not the expected JSON object: %w", err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// digest is how secrets are stored: their SHA-256, never the value.
func digest(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// equalSecret compares in constant time (also in length: both sides hashed).
func equalSecret(got, want string) bool {
	g, w := digest(got), digest(want)
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// s256 is the PKCE transform (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
