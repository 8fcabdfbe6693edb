package issuer

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// CodexRedirectURIs are the loopback callbacks codex 0.169.0 uses (port
// 1455, fallback 1457, host 127.0.0.1) and older clients used (localhost).
// Contract §3.1–3.2.
var CodexRedirectURIs = []string{
	"http://127.0.0.1:1455/auth/callback",
	"http://127.0.0.1:1457/auth/callback",
	"http://localhost:1455/auth/callback",
	"http://localhost:1457/auth/callback",
}

// codeLoginRequired answers prompt=none when nobody is signed in (OIDC Core
// §3.1.2.6).
const codeLoginRequired = "login_required"

// redirectAllowed is an exact string match against the registered URIs
// (OAuth 2.0 Security BCP §4.1.3: no pattern matching).
func (s *Server) redirectAllowed(uri string) bool {
	if s.hooks.skipRedirectURIMatch() {
		return uri != ""
	}
	return slices.Contains(CodexRedirectURIs, uri) || slices.Contains(s.cfg.RedirectURIs, uri)
}

// authzRequest is a validated authorization request.
type authzRequest struct {
	ClientID, RedirectURI, State, Challenge, Scope string
	// Nonce goes into every id_token of the grant (OIDC Core §3.1.2.1).
	Nonce string
	// PromptNone: the client wants no page, only a redirect (OIDC Core
	// §3.1.2.1 prompt=none).
	PromptNone bool
}

// validateAuthorize checks an authorization request (RFC 6749 §4.1.1,
// RFC 7636 §4.3). A bad client or redirect URI must be shown to the user
// (pageErr, never a redirect: §4.1.2.1); other errors go back to the client
// (redirectErr).
func (s *Server) validateAuthorize(q url.Values) (req authzRequest, redirectErr, pageErr *oauth.Error) {
	for k, v := range q {
		if len(v) > 1 && (k == "client_id" || k == "redirect_uri") {
			return req, nil, oauth.InvalidRequest("parameter %q appears more than once", k)
		}
	}
	req = authzRequest{ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), State: q.Get("state"),
		Challenge: q.Get("code_challenge"), Scope: q.Get("scope"), Nonce: q.Get("nonce")}
	if err := s.checkClient(req.ClientID); err != nil {
		return req, nil, err
	}
	if req.RedirectURI == "" {
		return req, nil, oauth.InvalidRequest("missing required parameter \"redirect_uri\"")
	}
	if !s.redirectAllowed(req.RedirectURI) {
		return req, nil, oauth.InvalidRequest("redirect_uri %q is not registered for this client", req.RedirectURI)
	}
	for k, v := range q {
		if len(v) > 1 {
			return req, oauth.InvalidRequest("parameter %q appears more than once", k), nil
		}
	}
	if rt := q.Get("response_type"); rt != "code" {
		return req, oauth.New(http.StatusBadRequest, "unsupported_response_type", "response_type must be \"code\""), nil
	}
	if req.Challenge == "" {
		return req, oauth.InvalidRequest("code_challenge is required (PKCE, RFC 7636)"), nil
	}
	if q.Get("code_challenge_method") != "S256" {
		return req, oauth.InvalidRequest("code_challenge_method must be S256"), nil
	}
	if len(req.Challenge) != 43 || !validVerifier(req.Challenge+"xxxxxxxx") {
		return req, oauth.InvalidRequest("code_challenge must be 43 characters of unpadded base64url (S256)"), nil
	}
	if len(req.Nonce) > maxNonce {
		return req, oauth.InvalidRequest("nonce is longer than %d characters", maxNonce), nil
	}
	// prompt is a space-delimited list; none may not be combined with
	// another value (OIDC Core §3.1.2.1). login, consent and
	// select_account need no action here: signing in is the consent.
	if prompts := strings.Fields(q.Get("prompt")); slices.Contains(prompts, "none") {
		if len(prompts) > 1 {
			return req, oauth.InvalidRequest("prompt=none cannot be combined with other prompt values"), nil
		}
		req.PromptNone = true
	}
	if req.Scope == "" {
		req.Scope = defaultScope
	}
	return req, nil, nil
}

// redirectWith builds the redirect back to the client, keeping any query
// the registered redirect URI carries.
func (s *Server) redirectWith(req authzRequest, params url.Values) string {
	u, _ := url.Parse(req.RedirectURI)
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *Server) redirectError(req authzRequest, e *oauth.Error) string {
	return s.redirectWith(req, url.Values{"error": {e.Code}, "error_description": {e.Description}})
}

// completeAuthorize issues a code for userID, who authenticates now (the
// admin API's headless sign-in), and returns where to send the browser.
func (s *Server) completeAuthorize(ctx context.Context, req authzRequest, userID string) (string, error) {
	return s.completeAuthorizeAt(ctx, req, userID, s.clock.Now())
}

// completeAuthorizeAt issues a code for userID, who authenticated at
// authTime, and returns where to send the browser. The code carries the
// authentication context (authn.go) to the id_tokens of the grant.
func (s *Server) completeAuthorizeAt(ctx context.Context, req authzRequest, userID string, authTime time.Time) (string, error) {
	now := s.clock.Now()
	code := s.withAuthn("ac_"+random(32), authnContext{AuthTime: authTime.Unix(), Nonce: req.Nonce})
	err := s.store.CreateAuthCode(ctx, store.AuthCode{Hash: store.Hash(code), ClientID: req.ClientID, RedirectURI: req.RedirectURI,
		CodeChallenge: req.Challenge, Scope: req.Scope, UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.AuthCodeTTL)})
	if err != nil {
		return "", err
	}
	s.metrics.authorizationCodes.Inc()
	return s.redirectWith(req, url.Values{"code": {code}}), nil
}

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1), opened in
// the user's browser by codex (contract §3.2).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	req, redirectErr, pageErr := s.validateAuthorize(r.URL.Query())
	if pageErr != nil {
		s.renderMessage(w, r, http.StatusBadRequest, "Sign-in request refused", pageErr.Description, "")
		return
	}
	if redirectErr != nil {
		http.Redirect(w, r, s.redirectError(req, redirectErr), http.StatusFound)
		return
	}
	userID, authTime, ok := s.signedIn(r)
	if auto := s.autoApproveUser(); !ok && auto != "" {
		userID, authTime, ok = auto, s.clock.Now(), true
	}
	if !ok && req.PromptNone {
		// No page may be shown, and nobody is signed in (OIDC Core §3.1.2.6).
		http.Redirect(w, r, s.redirectError(req, oauth.New(http.StatusBadRequest, codeLoginRequired, "no user is signed in and prompt=none forbids the login page")), http.StatusFound)
		return
	}
	if !ok {
		s.loginRedirect(w, r)
		return
	}
	loc, err := s.completeAuthorizeAt(r.Context(), req, userID, authTime)
	if err != nil {
		s.log.Error("store failure", "op", "create authorization code", "err", err)
		http.Redirect(w, r, s.redirectError(req, oauth.Unavailable(err)), http.StatusFound)
		return
	}
	http.Redirect(w, r, loc, http.StatusFound)
}
