package issuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Grant types the token endpoint serves.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// grant is one grant type the token endpoint serves and how it redeems.
type grant struct {
	Type   string
	redeem func(*http.Request, params) (any, error)
}

// grants are every grant the token endpoint serves, in the order discovery
// advertises them (grant_types_supported, RFC 8414 §2) and the
// unsupported_grant_type error lists them: one list for both.
func (s *Server) grants() []grant {
	return []grant{
		{GrantAuthorizationCode, s.grantAuthorizationCode},
		{GrantRefreshToken, s.grantRefreshToken},
		{GrantTokenExchange, s.grantTokenExchange},
		{GrantJWTBearer, s.grantJWTBearer},
	}
}

func (s *Server) grantTypes() []string {
	var out []string
	for _, g := range s.grants() {
		out = append(out, g.Type)
	}
	return out
}

// handleToken is the token endpoint (RFC 6749 §3.2). It takes form bodies
// for every grant and JSON for the refresh grant, as codex sends it
// (contract §6.3; JSON is accepted for the other grants too).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	p, perr := readParams(w, r, encBoth)
	if perr == nil {
		perr = withBasicClient(r, p)
	}
	if perr != nil {
		s.metrics.tokenErrors.WithLabelValues("bad_request").Inc()
		oauth.Write(w, perr)
		return
	}
	var resp any
	var err error
	gt, grants := p.get("grant_type"), s.grants()
	switch i := slices.IndexFunc(grants, func(g grant) bool { return g.Type == gt }); {
	case gt == "":
		err = oauth.InvalidRequest("missing required parameter \"grant_type\"")
	case i < 0:
		err = oauth.New(http.StatusBadRequest, oauth.CodeUnsupportedGrantType, "grant_type %q is not supported; use one of %s", gt, strings.Join(s.grantTypes(), ", "))
	default:
		resp, err = grants[i].redeem(r, p)
	}
	if err != nil {
		e := oauth.As(err)
		s.metrics.tokenErrors.WithLabelValues(e.Code).Inc()
		if e.Status >= 500 {
			s.log.Warn("token endpoint failure", "grant_type", p.get("grant_type"), "code", e.Code, "err", err)
		}
		oauth.Write(w, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// checkClient accepts a registered public client id (RFC 6749 §2.2).
func (s *Server) checkClient(clientID string) *oauth.Error {
	if clientID == "" {
		return oauth.InvalidRequest("missing required parameter \"client_id\"")
	}
	if !slices.Contains(s.cfg.ClientIDs, clientID) && !s.hooks.skipClientRegistration() {
		return oauth.InvalidClient("client_id %q is not registered at this issuer", clientID)
	}
	return nil
}

// withBasicClient takes the client id from HTTP Basic authentication
// (RFC 6749 §2.3.1: the form-urlencoded client id as user name), which
// standard libraries send by default. The issuer's clients are public
// (§2.1) and have no secret: a password is refused as 401 invalid_client
// (§5.2). A client id in the body as well must be the same one.
func withBasicClient(r *http.Request, p params) *oauth.Error {
	auth := r.Header.Get("Authorization")
	if len(auth) < 6 || !strings.EqualFold(auth[:6], "Basic ") {
		return nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return oauth.InvalidClient("malformed HTTP Basic client authentication")
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	switch {
	case err1 != nil || err2 != nil || id == "":
		return oauth.InvalidClient("malformed HTTP Basic client authentication (RFC 6749 §2.3.1)")
	case secret != "":
		return oauth.InvalidClient("client %q is a public client without a secret: send an empty password or none", id)
	case p.get("client_id") != "" && p.get("client_id") != id:
		return oauth.InvalidRequest("client_id in the body differs from the one in the Authorization header")
	}
	p.values["client_id"] = id
	return nil
}

// s256 is the PKCE S256 transform (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier checks RFC 7636 §4.1: 43–128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// grantAuthorizationCode redeems a code (RFC 6749 §4.1.3) with PKCE
// (RFC 7636 §4.6). The code is consumed atomically first, so a failed
// attempt also burns it; a replay revokes what the first exchange issued
// (RFC 6749 §4.1.2).
func (s *Server) grantAuthorizationCode(r *http.Request, p params) (any, error) {
	if err := p.require("code", "redirect_uri", "code_verifier"); err != nil {
		return nil, err
	}
	if err := s.checkClient(p.get("client_id")); err != nil {
		return nil, err
	}
	ctx := r.Context()
	now := s.clock.Now()
	familyID := "fam_" + random(16)
	hash := store.Hash(p.get("code"))
	code, err := s.store.ConsumeAuthCode(ctx, hash, now, familyID)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrAlreadyUsed):
		if code.FamilyID != "" {
			if rerr := s.store.RevokeFamily(ctx, code.FamilyID, "authorization_code_replayed", now); rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
				return nil, s.storeErr(r, "revoke family of replayed code", rerr)
			}
		}
		s.log.Warn("authorization code replayed; revoked the tokens it issued", "family", code.FamilyID)
		return nil, oauth.InvalidGrant("authorization code was already used")
	case errors.Is(err, store.ErrExpired):
		return nil, oauth.InvalidGrant("authorization code has expired")
	case errors.Is(err, store.ErrNotFound):
		return nil, oauth.InvalidGrant("authorization code is not valid")
	default:
		return nil, s.storeErr(r, "consume authorization code", err)
	}
	if code.ClientID != p.get("client_id") {
		return nil, oauth.InvalidGrant("authorization code was issued to another client")
	}
	if code.RedirectURI != p.get("redirect_uri") && !s.hooks.skipRedirectURIMatch() {
		return nil, oauth.InvalidGrant("redirect_uri does not match the authorization request")
	}
	if !s.hooks.skipPKCEVerification() {
		if !validVerifier(p.get("code_verifier")) {
			return nil, oauth.InvalidGrant("code_verifier must be 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)")
		}
		if subtle.ConstantTimeCompare([]byte(s256(p.get("code_verifier"))), []byte(code.CodeChallenge)) != 1 {
			return nil, oauth.InvalidGrant("code_verifier does not match the code_challenge (PKCE S256)")
		}
	}
	u, err := s.store.GetUser(ctx, code.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, oauth.InvalidGrant("the user of this code no longer exists or is disabled")
	} else if err != nil {
		return nil, s.storeErr(r, "load user", err)
	}
	fam := store.Family{ID: code.FamilyID, UserID: u.ID, ClientID: code.ClientID, Scope: code.Scope, CreatedAt: now}
	authn := s.authnOr(p.get("code"), code.CreatedAt)
	refresh := s.withAuthn(newRefreshToken(), authn)
	if err := s.store.CreateFamily(ctx, fam, store.RefreshToken{Hash: store.Hash(refresh), CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}); err != nil {
		return nil, s.storeErr(r, "create token family", err)
	}
	resp, err := s.issue(ctx, u, fam, refresh, authn, fam.Scope)
	if err != nil {
		return nil, s.storeErr(r, "issue tokens", err)
	}
	s.log.Info("tokens issued", "grant", "authorization_code", "user", u.ID, "client", code.ClientID, "family", fam.ID)
	return resp, nil
}
