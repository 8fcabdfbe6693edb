package issuer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/codexauth/codexauth/issuer/keys"
	"github.com/codexauth/codexauth/issuer/store"
)

// Claim names codex reads (contract §5).
const (
	ClaimAuth    = "https://api.openai.com/auth"
	ClaimProfile = "https://api.openai.com/profile"
	// AccessAudience is the audience of access tokens, as the ChatGPT
	// backend expects it.
	AccessAudience = "https://api.openai.com/v1"
)

// tokenResponse is the successful token-endpoint body (RFC 6749 §5.1).
type tokenResponse struct {
	IDToken      string `json:"id_token,omitempty"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
}

// tokenKind names which of the issuer's JWTs is being minted. Production
// signs every kind alike; the token-shape faults (fault_tokens.go) misshape
// some kinds only.
type tokenKind int

const (
	// idToken is the OpenID Connect id_token (contract §5.1, §5.2).
	idToken tokenKind = iota + 1
	// accessToken is the ChatGPT access token of a login (§5.3, §6.1).
	accessToken
	// workloadAccessToken answers the jwt-bearer grant (§9.2).
	workloadAccessToken
	// agentIdentityToken is a minted agent identity (§8.1).
	agentIdentityToken
	// workloadAssertion is what the issuer mints as a workload identity
	// provider (admin API), to be presented to the jwt-bearer grant.
	workloadAssertion
)

// tokenSigner mints the issuer's JWTs.
type tokenSigner interface {
	sign(ctx context.Context, kind tokenKind, claims jwt.MapClaims) (string, error)
}

// keySigner signs claims with the active key through golang-jwt: a compact
// RS256 JWS (RFC 7515 §7.1) with unpadded base64url segments and the key's
// kid in the header (contract §5.1, §8.1).
type keySigner struct{ keys *keys.Manager }

func (k keySigner) sign(ctx context.Context, _ tokenKind, claims jwt.MapClaims) (string, error) {
	key, err := k.keys.Active(ctx)
	if err != nil {
		return "", fmt.Errorf("active signing key: %w", err)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = key.KID
	signed, err := t.SignedString(key.Private)
	if err != nil {
		return "", fmt.Errorf("sign with key %s: %w", key.KID, err)
	}
	return signed, nil
}

// authClaim builds the nested https://api.openai.com/auth object with the
// JSON types codex insists on (contract §5.2: strings, bool, list of objects).
func authClaim(u store.User) map[string]any {
	orgs := []map[string]any{}
	for _, o := range u.Organizations {
		orgs = append(orgs, map[string]any{"id": o.ID, "title": o.Title, "role": o.Role, "is_default": o.IsDefault})
	}
	a := map[string]any{}
	for k, v := range u.ExtraAuthClaims {
		a[k] = v
	}
	a["chatgpt_account_id"] = u.AccountID
	a["chatgpt_user_id"] = u.ChatGPTUserID
	a["user_id"] = u.ChatGPTUserID
	a["chatgpt_plan_type"] = u.PlanType
	a["chatgpt_account_is_fedramp"] = u.FedRAMP
	a["organizations"] = orgs
	a["groups"] = []any{}
	if u.OrganizationID != "" {
		a["organization_id"] = u.OrganizationID
	}
	if u.ProjectID != "" {
		a["project_id"] = u.ProjectID
	}
	if u.IsOrgOwner {
		a["is_org_owner"] = true
	}
	if u.Onboarded {
		a["completed_platform_onboarding"] = true
	}
	return a
}

// idClaims are the OpenID Connect id_token claims (OIDC Core §2) plus
// OpenAI's namespaced ones (contract §5.2).
func (s *Server) idClaims(u store.User, clientID string, now time.Time, authn authnContext) jwt.MapClaims {
	c := jwt.MapClaims{}
	for k, v := range u.ExtraClaims {
		c[k] = v
	}
	c["iss"] = s.cfg.PublicURL
	c["aud"] = []string{clientID}
	c["sub"] = u.ID
	c["iat"] = now.Unix()
	c["exp"] = now.Add(s.cfg.IDTokenTTL).Unix()
	c["auth_time"] = authn.AuthTime
	if authn.Nonce != "" {
		c["nonce"] = authn.Nonce
	}
	c["jti"] = random(16)
	c["email"] = u.Email
	c["email_verified"] = true
	c[ClaimAuth] = authClaim(u)
	c[ClaimProfile] = map[string]any{"email": u.Email, "email_verified": true}
	if u.Name != "" {
		c["name"] = u.Name
	}
	return c
}

func (s *Server) accessTTL() time.Duration {
	if o := s.accessTTLOverride.Load(); o > 0 {
		return time.Duration(o)
	}
	return s.cfg.AccessTTL
}

func (s *Server) reuseGrace() time.Duration {
	if o := s.reuseGraceOverride.Load(); o != 0 {
		return max(0, time.Duration(o))
	}
	return s.cfg.ReuseGrace
}

// accessClaims are the access-token claims: what the ChatGPT backend and
// codex's proactive refresh read (contract §6.1: an integer exp; the auth
// object's plan).
func (s *Server) accessClaims(u store.User, clientID, scope, jti string, now, exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":        s.cfg.PublicURL,
		"aud":        []string{AccessAudience},
		"sub":        u.ID,
		"client_id":  clientID,
		"iat":        now.Unix(),
		"exp":        exp.Unix(),
		"jti":        jti,
		"scp":        strings.Fields(scope),
		ClaimAuth:    authClaim(u),
		ClaimProfile: map[string]any{"email": u.Email, "email_verified": true},
	}
}

// issue mints the id and access tokens for a family and records the access
// token. refresh is the refresh token to hand out (may be empty); authn is
// the authentication the id_token repeats; scope is what the access token
// grants: the family's, or a narrower one a refresh asked for (RFC 6749 §6).
func (s *Server) issue(ctx context.Context, u store.User, fam store.Family, refresh string, authn authnContext, scope string) (tokenResponse, error) {
	now := s.clock.Now()
	jti := random(16)
	if err := s.store.RecordAccessToken(ctx, store.AccessTokenRecord{JTI: jti, FamilyID: fam.ID, UserID: u.ID,
		ClientID: fam.ClientID, IssuedAt: now, ExpiresAt: now.Add(s.accessTTL())}); err != nil {
		return tokenResponse{}, fmt.Errorf("record access token: %w", err)
	}
	return s.mint(ctx, u, fam, refresh, authn, scope, jti, now)
}

// mint signs the id and access tokens of an issue whose access-token record
// (jti, issued now) is already stored — by issue, or by the refresh
// rotation in the same transaction.
func (s *Server) mint(ctx context.Context, u store.User, fam store.Family, refresh string, authn authnContext, scope, jti string, now time.Time) (tokenResponse, error) {
	ttl := s.accessTTL()
	id, err := s.signer.sign(ctx, idToken, s.idClaims(u, fam.ClientID, now, authn))
	if err != nil {
		return tokenResponse{}, err
	}
	access, err := s.signer.sign(ctx, accessToken, s.accessClaims(u, fam.ClientID, scope, jti, now, now.Add(ttl)))
	if err != nil {
		return tokenResponse{}, err
	}
	s.metrics.tokensIssued.Inc()
	return tokenResponse{IDToken: id, AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int64(ttl / time.Second), Scope: scope}, nil
}

// newRefreshToken returns a fresh opaque refresh token.
func newRefreshToken() string { return "rt_" + random(32) }

// childOf derives the successor of a refresh token. Deterministic, so a
// grace-window replay yields the very same child without storing any
// plaintext; keyed, so nobody without the server secret can compute it. The
// child carries its parent's sealed authentication context (authn.go).
func (s *Server) childOf(presented string) string {
	m := hmac.New(sha256.New, s.derive)
	m.Write([]byte("refresh-child\x00"))
	m.Write([]byte(presented))
	return "rt_" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)) + authnSuffix(presented)
}

// verifyOwnJWT checks a JWT this issuer signed (RS256, known kid,
// unexpired at the issuer clock) and returns its claims.
func (s *Server) verifyOwnJWT(ctx context.Context, raw string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, ok := s.keys.Lookup(ctx, kid)
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.clock.Now), jwt.WithIssuer(s.cfg.PublicURL), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	return claims, nil
}
