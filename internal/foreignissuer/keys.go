package foreignissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ---- signing keys

// signingKey is an RSA-2048 key signing RS256 JWTs with its kid in the header.
type signingKey struct {
	priv   *rsa.PrivateKey
	kid    string
	signer jose.Signer
}

func newSigningKey(prefix string) (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("foreign issuer: generate RSA key: %w", err)
	}
	k := &signingKey{priv: priv, kid: prefix + randomHex(6)}
	k.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("foreign issuer: signer: %w", err)
	}
	return k, nil
}

// sign serialises claims as a compact JWS (RFC 7515 §7.1: unpadded base64url).
func (k *signingKey) sign(claims map[string]any) (string, error) {
	return jwt.Signed(k.signer).Claims(claims).Serialize()
}

// jwks is the public half as a JWK Set (RFC 7517 §5).
func (k *signingKey) jwks() map[string]any {
	jwk := jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"}
	return map[string]any{"keys": []any{jwk}}
}

// claims are the parts of our JWTs the issuer itself checks.
type claims struct {
	Issuer   string           `json:"iss"`
	Audience jwt.Audience     `json:"aud"`
	Expiry   *jwt.NumericDate `json:"exp"`
	ID       string           `json:"jti"`
	Auth     struct {
		AccountID string `json:"chatgpt_account_id"`
		UserID    string `json:"chatgpt_user_id"`
	} `json:"https://api.openai.com/auth"`
}

var (
	errBadToken     = errors.New("not a token of this issuer")
	errTokenExpired = errors.New("token expired")
)

// verify checks an RS256 JWT of ours: only RS256 (so alg none and HS256
// keyed with the public key are refused, RFC 8725 §3.1), our kid, our
// signature, our iss, an unexpired integer exp, and aud containing aud.
func (iss *Issuer) verify(raw, aud string) (claims, error) {
	var c claims
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(tok.Headers) != 1 || tok.Headers[0].KeyID != iss.tokenKey.kid {
		return c, errBadToken
	}
	if err := tok.Claims(&iss.tokenKey.priv.PublicKey, &c); err != nil {
		return c, errBadToken
	}
	if c.Issuer != iss.URL || !c.Audience.Contains(aud) || c.Expiry == nil {
		return c, errBadToken
	}
	if !iss.now().Before(c.Expiry.Time()) {
		return c, errTokenExpired
	}
	return c, nil
}

// ---- minting

// mintLogin signs an id_token and an access token for u (contract §5):
// integer iat/exp, the nested auth object with string and boolean claims,
// the email under the profile claim too. derived (the SameSecondTokens
// defect) makes the jti a function of (user, second) instead of random.
func (iss *Issuer) mintLogin(u user, clientID string, now time.Time, derived bool) (idToken, accessToken, jti string, err error) {
	iat, exp := now.Unix(), now.Add(accessTTL).Unix()
	jti, idJTI := "at-"+randomHex(16), "id-"+randomHex(16)
	if derived {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s:%d", u.id, iat))
		jti, idJTI = "at-"+hex.EncodeToString(sum[:16]), "id-"+hex.EncodeToString(sum[16:])
	}
	auth := map[string]any{"chatgpt_account_id": u.accountID, "chatgpt_user_id": u.id, "user_id": u.id,
		"chatgpt_plan_type": u.plan, "chatgpt_account_is_fedramp": false,
		"organizations": []any{map[string]any{"id": u.orgID, "is_default": true, "role": "owner", "title": "Personal"}}}
	profile := map[string]any{"email": u.email, "email_verified": true}
	idToken, err = iss.tokenKey.sign(map[string]any{"iss": iss.URL, "sub": u.id, "aud": []string{clientID},
		"iat": iat, "exp": exp, "auth_time": iat, "jti": idJTI, "email": u.email, "email_verified": true,
		"https://api.openai.com/auth": auth, "https://api.openai.com/profile": profile})
	if err != nil {
		return "", "", "", fmt.Errorf("sign id_token: %w", err)
	}
	accessToken, err = iss.tokenKey.sign(map[string]any{"iss": iss.URL, "sub": u.id, "aud": []string{accessAudience},
		"client_id": clientID, "iat": iat, "exp": exp, "jti": jti, "scp": []string{"openid", "profile", "email", "offline_access"},
		"https://api.openai.com/auth": auth, "https://api.openai.com/profile": profile})
	if err != nil {
		return "", "", "", fmt.Errorf("sign access token: %w", err)
	}
	return idToken, accessToken, jti, nil
}
