package issuer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/codexauth/codexauth/issuer/faults"
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

// authClaim builds the nested https://api.openai.com/auth object with the
// JSON types codex insists on (strings, bool, list of objects).
func (s *Server) authClaim(u store.User) any {
	if s.faults.Has(faults.AuthClaimNotObject) {
		return "chatgpt_account_id=" + u.AccountID
	}
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
	if s.faults.Has(faults.NoAccountID) {
		delete(a, "chatgpt_account_id")
	}
	if s.faults.Has(faults.PlanNotString) {
		a["chatgpt_plan_type"] = 2
	}
	if s.faults.Has(faults.FedrampNotBool) {
		a["chatgpt_account_is_fedramp"] = "false"
	}
	return a
}

func (s *Server) email(u store.User) any {
	if s.faults.Has(faults.EmailNotString) {
		return 42
	}
	return u.Email
}

func (s *Server) issuerID() string {
	if s.faults.Has(faults.IssMismatch) {
		return s.cfg.PublicURL + "/other"
	}
	return s.cfg.PublicURL
}

// idClaims are the OpenID Connect id_token claims (OIDC Core §2) plus
// OpenAI's namespaced ones.
func (s *Server) idClaims(u store.User, clientID string, now time.Time, authTime time.Time) map[string]any {
	c := map[string]any{}
	for k, v := range u.ExtraClaims {
		c[k] = v
	}
	c["iss"] = s.issuerID()
	c["aud"] = []string{clientID}
	c["sub"] = u.ID
	c["iat"] = now.Unix()
	c["exp"] = now.Add(s.cfg.IDTokenTTL).Unix()
	c["auth_time"] = authTime.Unix()
	c["jti"] = random(16)
	c["email"] = s.email(u)
	c["email_verified"] = true
	c[ClaimAuth] = s.authClaim(u)
	c[ClaimProfile] = map[string]any{"email": u.Email, "email_verified": true}
	if u.Name != "" {
		c["name"] = u.Name
	}
	return c
}

func (s *Server) accessTTL() time.Duration {
	if s.faults.Has(faults.ShortAccessTTL) {
		return 60 * time.Second
	}
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
// codex's proactive refresh read (exp, the auth object's plan).
func (s *Server) accessClaims(u store.User, clientID, scope, jti string, now time.Time) map[string]any {
	c := map[string]any{
		"iss":        s.issuerID(),
		"aud":        []string{AccessAudience},
		"sub":        u.ID,
		"client_id":  clientID,
		"iat":        now.Unix(),
		"exp":        now.Add(s.accessTTL()).Unix(),
		"jti":        jti,
		"scp":        strings.Fields(scope),
		ClaimAuth:    s.authClaim(u),
		ClaimProfile: map[string]any{"email": u.Email, "email_verified": true},
	}
	if s.faults.Has(faults.ExpNotInteger) {
		c["exp"] = float64(now.Add(s.accessTTL()).Unix()) + 0.5
	}
	return c
}

// sign produces a compact RS256 JWS (RFC 7515) with unpadded base64url
// segments and a kid header, signed through golang-jwt.
func (s *Server) sign(ctx context.Context, claims map[string]any) (string, error) {
	return s.signWith(ctx, claims, true)
}

func (s *Server) signWith(ctx context.Context, claims map[string]any, withKID bool) (string, error) {
	key, err := s.keys.Active(ctx)
	if err != nil {
		return "", err
	}
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": key.KID}
	if !withKID {
		delete(header, "kid")
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(pb)
	if s.faults.Has(faults.PaddedJWT) {
		for len(pb)%3 == 0 {
			pb = append(pb, ' ')
		}
		payload = base64.URLEncoding.EncodeToString(pb)
	}
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + payload
	sig, err := jwt.SigningMethodRS256.Sign(signing, key.Private)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// issue records an access token for a family and mints the id and access
// tokens. refresh is the refresh token to hand out (may be empty).
func (s *Server) issue(ctx context.Context, u store.User, fam store.Family, refresh string, authTime time.Time) (tokenResponse, error) {
	now := s.clock.Now()
	jti := random(16)
	if err := s.store.RecordAccessToken(ctx, store.AccessTokenRecord{JTI: jti, FamilyID: fam.ID, UserID: u.ID,
		ClientID: fam.ClientID, IssuedAt: now, ExpiresAt: now.Add(s.accessTTL())}); err != nil {
		return tokenResponse{}, fmt.Errorf("record access token: %w", err)
	}
	return s.mint(ctx, u, fam, refresh, authTime, jti, now)
}

// mint signs the id and access tokens of an issue whose access-token record
// (jti, issued now) is already stored — by issue, or by the refresh
// rotation in the same transaction.
func (s *Server) mint(ctx context.Context, u store.User, fam store.Family, refresh string, authTime time.Time, jti string, now time.Time) (tokenResponse, error) {
	idc := s.idClaims(u, fam.ClientID, now, authTime)
	id, err := s.sign(ctx, idc)
	if err != nil {
		return tokenResponse{}, err
	}
	if s.faults.Has(faults.IDTokenTwoSegments) {
		id = id[:strings.LastIndex(id, ".")]
	}
	var access string
	if s.faults.Has(faults.OpaqueAccessToken) {
		access = "at_" + random(32)
	} else if access, err = s.sign(ctx, s.accessClaims(u, fam.ClientID, fam.Scope, jti, now)); err != nil {
		return tokenResponse{}, err
	}
	resp := tokenResponse{IDToken: id, AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int64(s.accessTTL() / time.Second), Scope: fam.Scope}
	if s.faults.Has(faults.NoRefreshToken) {
		resp.RefreshToken = ""
	}
	s.metrics.inc("codexauth_tokens_issued_total", "")
	return resp, nil
}

// newRefreshToken returns a fresh opaque refresh token.
func newRefreshToken() string { return "rt_" + random(32) }

// childOf derives the successor of a refresh token. Deterministic, so a
// grace-window replay yields the very same child without storing any
// plaintext; keyed, so nobody without the server secret can compute it.
func (s *Server) childOf(presented string) string {
	m := hmac.New(sha256.New, s.derive)
	m.Write([]byte("refresh-child\x00"))
	m.Write([]byte(presented))
	return "rt_" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
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
