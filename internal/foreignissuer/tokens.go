package foreignissuer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Grant types (RFC 6749 §4.1.3, §6; RFC 8693 §2.1) and token lifetimes.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	idTokenType            = "urn:ietf:params:oauth:token-type:id_token"

	accessTTL  = time.Hour
	refreshTTL = 30 * 24 * time.Hour
	codeTTL    = 10 * time.Minute
	// accessAudience tells access tokens from id_tokens (whose aud is the client).
	accessAudience = "https://api.openai.com/v1"
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

// ---- sessions: families of refresh tokens

// family is one login: every refresh token rotated from it and their
// access tokens. Revoking it (logout, reuse) ends them all.
type family struct {
	user     user
	clientID string
	revoked  bool
}

// refreshRecord is a refresh token, known only by its hash.
type refreshRecord struct {
	family    *family
	expires   time.Time
	child     *refreshRecord // its successor, once rotated
	rotatedAt time.Time
	// sealedAnswer is the rotation's answer, AES-GCM sealed under a key
	// derived from this (parent) token, kept for the grace window only:
	// a re-presented parent gets the very same successor back.
	sealedAnswer []byte
}

type accessRecord struct {
	family  *family
	revoked bool
}

var errDuplicateKey = errors.New(`duplicate key value violates unique constraint "access_tokens_token_key"`)

// issue mints and records a token set for fam; the caller holds mu.
func (iss *Issuer) issue(fam *family, now time.Time, derived bool) (map[string]any, *refreshRecord, error) {
	idToken, accessToken, jti, err := iss.mintLogin(fam.user, fam.clientID, now, derived)
	if err != nil {
		return nil, nil, err
	}
	// The store's unique indexes, checked before anything is written.
	if iss.accessIndex[digest(accessToken)] || iss.access[jti] != nil {
		return nil, nil, errDuplicateKey
	}
	refreshToken := "rt_fi_" + randomID(32)
	rec := &refreshRecord{family: fam, expires: now.Add(refreshTTL)}
	iss.refresh[digest(refreshToken)] = rec
	iss.access[jti] = &accessRecord{family: fam}
	iss.accessIndex[digest(accessToken)] = true
	return map[string]any{"id_token": idToken, "access_token": accessToken, "refresh_token": refreshToken,
		"token_type": "Bearer", "expires_in": int(accessTTL.Seconds()), "scope": "openid profile email offline_access"}, rec, nil
}

// ---- the token endpoint

// tokenEndpoint serves the grants in allowed (RFC 6749 §3.2): the code
// exchange (form, §3.4), codex's refresh (JSON or form, §6.3) and the API
// key exchange (form, §3.6). Bad input is a 4xx, never a 5xx.
func (iss *Issuer) tokenEndpoint(allowed ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, isJSON, e := readParams(r)
		if e == nil && isJSON && iss.opts.RefreshFormOnlyOneCode {
			e = errorf(http.StatusUnsupportedMediaType, "invalid_request", "send application/x-www-form-urlencoded")
		}
		if e != nil {
			iss.fail(w, e)
			return
		}
		grant := p["grant_type"]
		var answer map[string]any
		switch {
		case grant == "":
			e = errorf(400, "invalid_request", "grant_type is required")
		case !slices.Contains(allowed, grant):
			e = errorf(400, "unsupported_grant_type", "grant_type %q is not supported here", grant)
		case grant == grantAuthorizationCode:
			answer, e = iss.exchangeCode(p)
		case grant == grantRefreshToken:
			answer, e = iss.refreshGrant(p)
		case grant == grantTokenExchange:
			answer, e = iss.exchangeAPIKey(p)
		}
		if e != nil {
			iss.fail(w, e)
			return
		}
		iss.writeJSON(w, 200, answer)
	}
}

// readParams reads a form body (RFC 6749 §4.1.3) or a JSON object of
// strings (codex's refresh and revoke bodies, §6.3, §7).
func readParams(r *http.Request) (map[string]string, bool, *apiError) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	p := map[string]string{}
	switch mt {
	case "application/json":
		var raw map[string]any
		if err := readJSON(r, &raw); err != nil || raw == nil {
			return nil, true, errorf(400, "invalid_request", "the body is not a JSON object")
		}
		for k, v := range raw {
			s, ok := v.(string)
			if !ok && v != nil {
				return nil, true, errorf(400, "invalid_request", "%s must be a string", k)
			}
			p[k] = s
		}
		return p, true, nil
	case "application/x-www-form-urlencoded":
		r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			return nil, false, errorf(400, "invalid_request", "the form body cannot be parsed")
		}
		for k, vs := range r.PostForm {
			if len(vs) != 1 {
				return nil, false, errorf(400, "invalid_request", "%s is repeated", k) // RFC 6749 §3.2
			}
			p[k] = vs[0]
		}
		return p, false, nil
	}
	return nil, false, errorf(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded or application/json")
}

// exchangeCode redeems an authorization code (RFC 6749 §4.1.3, RFC 7636
// §4.6): single use, bound to client, redirect_uri and the S256 challenge.
// A second redemption revokes what the first one issued (RFC 6749 §4.1.2).
func (iss *Issuer) exchangeCode(p map[string]string) (map[string]any, *apiError) {
	code, redirect, verifier := p["code"], p["redirect_uri"], p["code_verifier"]
	if code == "" || redirect == "" || verifier == "" {
		return nil, errorf(400, "invalid_request", "code, redirect_uri and code_verifier are required")
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	now := iss.now()
	c := iss.codes[digest(code)]
	switch {
	case c == nil:
		return nil, errorf(400, "invalid_grant", "unknown authorization code")
	case c.used:
		if c.family != nil {
			c.family.revoked = true
		}
		return nil, errorf(400, "invalid_grant", "the authorization code was already used")
	}
	c.used = true
	switch {
	case !now.Before(c.expires):
		return nil, errorf(400, "invalid_grant", "the authorization code expired")
	case p["client_id"] != "" && p["client_id"] != c.clientID:
		return nil, errorf(400, "invalid_grant", "the code was issued to another client")
	case redirect != c.redirectURI:
		return nil, errorf(400, "invalid_grant", "redirect_uri does not match the authorization request")
	case !equalSecret(s256(verifier), c.challenge):
		return nil, errorf(400, "invalid_grant", "code_verifier does not match the code_challenge")
	}
	fam := &family{user: c.user, clientID: c.clientID}
	answer, _, err := iss.issue(fam, now, iss.opts.SameSecondTokens)
	if err != nil {
		// The code is spent; a store error surfaces as a server error.
		return nil, errorf(500, "server_error", "%v", err)
	}
	c.family = fam
	return answer, nil
}

// refreshGrant rotates a refresh token (RFC 6749 §6; contract §6.5 codes):
// unknown → 401 invalid_grant, revoked family → refresh_token_invalidated,
// expired → refresh_token_expired, rotated-out after the grace window →
// refresh_token_reused and the family is revoked. Unknown fields such as
// refresh_reason are ignored.
func (iss *Issuer) refreshGrant(p map[string]string) (map[string]any, *apiError) {
	answer, e := iss.rotate(p)
	if e != nil && iss.opts.RefreshFormOnlyOneCode {
		e = errorf(401, "refresh_token_expired", "the refresh token expired")
	}
	return answer, e
}

func (iss *Issuer) rotate(p map[string]string) (map[string]any, *apiError) {
	token := p["refresh_token"]
	if token == "" {
		return nil, errorf(400, "invalid_request", "refresh_token is required")
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	now := iss.now()
	rec := iss.refresh[digest(token)]
	switch {
	case rec == nil:
		return nil, errorf(401, "invalid_grant", "unknown refresh token")
	case p["client_id"] != "" && p["client_id"] != rec.family.clientID:
		return nil, errorf(401, "invalid_grant", "the refresh token was issued to another client")
	case rec.family.revoked:
		return nil, errorf(401, "refresh_token_invalidated", "the refresh token was revoked")
	case !now.Before(rec.expires):
		return nil, errorf(401, "refresh_token_expired", "the refresh token expired")
	case rec.child != nil:
		graceOpen := now.Before(rec.rotatedAt.Add(iss.opts.GraceWindow)) && rec.child.child == nil
		if plain, ok := unseal(token, rec.sealedAnswer); graceOpen && ok {
			var answer map[string]any
			if json.Unmarshal(plain, &answer) == nil {
				return answer, nil // the same successor, never a second branch
			}
		}
		rec.family.revoked, rec.sealedAnswer = true, nil
		return nil, errorf(401, "refresh_token_reused", "the refresh token was already used; the session is revoked")
	}
	answer, child, err := iss.issue(rec.family, now, false)
	if err != nil {
		return nil, errorf(500, "server_error", "%v", err)
	}
	rec.child, rec.rotatedAt = child, now
	if iss.opts.GraceWindow > 0 {
		plain, _ := json.Marshal(answer)
		rec.sealedAnswer = seal(token, plain)
	}
	return answer, nil
}

// seal encrypts plain under a key only the holder of token can derive.
func seal(token string, plain []byte) []byte {
	gcm := gcmFor(token)
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plain, nil)
}

func unseal(token string, sealed []byte) ([]byte, bool) {
	gcm := gcmFor(token)
	if len(sealed) < gcm.NonceSize() {
		return nil, false
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	return plain, err == nil
}

func gcmFor(token string) cipher.AEAD {
	key := sha256.Sum256([]byte("foreign-issuer grace answer\x00" + token))
	block, _ := aes.NewCipher(key[:]) // a 32-byte key never fails
	gcm, _ := cipher.NewGCM(block)
	return gcm
}

// exchangeAPIKey is the id_token → API key exchange (RFC 8693; contract §3.6).
func (iss *Issuer) exchangeAPIKey(p map[string]string) (map[string]any, *apiError) {
	if p["requested_token"] != "openai-api-key" || p["subject_token_type"] != idTokenType || p["subject_token"] == "" {
		return nil, errorf(400, "invalid_request", "expected requested_token=openai-api-key and an id_token subject_token")
	}
	clientID := p["client_id"]
	if clientID == "" {
		clientID = CodexClientID
	}
	if _, err := iss.verify(p["subject_token"], clientID); err != nil {
		return nil, errorf(400, "invalid_grant", "subject_token is not a live id_token of this issuer for this client")
	}
	return map[string]any{"access_token": "sk-fi-" + randomID(24), "issued_token_type": "openai-api-key", "token_type": "Bearer"}, nil
}

// ---- revocation

// revoke is RFC 7009 (JSON as codex sends it, §7, or form): revoking a
// refresh token revokes its family and the family's access tokens;
// revoking an access token revokes that token. Unknown tokens: 200.
func (iss *Issuer) revoke(w http.ResponseWriter, r *http.Request) {
	p, _, e := readParams(r)
	if e == nil && p["token"] == "" {
		e = errorf(400, "invalid_request", "token is required")
	}
	if e != nil {
		iss.fail(w, e)
		return
	}
	token := p["token"]
	iss.mu.Lock()
	if rec := iss.refresh[digest(token)]; rec != nil {
		rec.family.revoked = true
	} else if strings.Count(token, ".") == 2 {
		if c, err := iss.verify(token, accessAudience); err == nil && iss.access[c.ID] != nil {
			iss.access[c.ID].revoked = true
		}
	}
	iss.mu.Unlock()
	iss.writeJSON(w, 200, map[string]any{})
}
