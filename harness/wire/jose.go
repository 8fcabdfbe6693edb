package wire

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// The harness verifies signatures with go-jose, a JOSE implementation of its
// own: the issuer signs with golang-jwt, so a bug in one library cannot make
// both sides agree on a wrong answer.

// KeySet is the RSA verification keys of a JWKS by kid.
type KeySet map[string]*rsa.PublicKey

// maxJWKSKeys bounds how many keys of a JWKS are looked at: a hostile issuer
// could publish thousands; real ones publish a handful.
const maxJWKSKeys = 64

// ParseJWKS reads a JWK Set (RFC 7517 §5) and keeps the keys a codex-side
// verifier can use for RS256 (RFC 7518 §3.3): kty RSA with a kid, a modulus
// of at least 2048 bits, and no "use" other than "sig". problems says why
// each other key was left out; err is set when the document itself is not a
// JWK Set.
func ParseJWKS(body []byte) (set KeySet, problems []string, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New("not a JWK Set: no \"keys\" array")
	}
	set = KeySet{}
	for i, raw := range doc.Keys {
		if i == maxJWKSKeys {
			problems = append(problems, fmt.Sprintf("%d more keys not examined", len(doc.Keys)-maxJWKSKeys))
			break
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			problems = append(problems, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("key %d (kid %q): not an RSA public key", i, k.KeyID))
		case k.KeyID == "":
			problems = append(problems, fmt.Sprintf("key %d: no kid", i))
		case pub.N.BitLen() < 2048:
			problems = append(problems, fmt.Sprintf("key %q: %d-bit modulus, under 2048", k.KeyID, pub.N.BitLen()))
		case k.Use != "" && k.Use != "sig":
			problems = append(problems, fmt.Sprintf("key %q: use %q", k.KeyID, k.Use))
		default:
			set[k.KeyID] = pub
		}
	}
	return set, problems, nil
}

// VerifyRS256 checks a compact JWS (RFC 7515 §7.1) as a strict verifier
// does: alg RS256 only, the kid of its header in set, the signature valid.
// It returns the kid and the verified payload.
func VerifyRS256(raw string, set KeySet) (kid string, payload []byte, err error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", nil, fmt.Errorf("not an RS256 JWS: %w", err)
	}
	kid = jws.Signatures[0].Header.KeyID
	key, ok := set[kid]
	if !ok {
		return kid, nil, fmt.Errorf("kid %q is not in the JWKS", kid)
	}
	payload, err = jws.Verify(key)
	if err != nil {
		return kid, nil, fmt.Errorf("signature does not verify with JWKS key %q: %w", kid, err)
	}
	return kid, payload, nil
}

// VerifyAgentIdentity reproduces codex's check of an agent identity JWT
// (contract §8.1): RS256 with a kid from the agent-identity JWKS, iss and
// aud the literal values codex expects, exp present and not passed at now.
func VerifyAgentIdentity(raw string, set KeySet, now time.Time) error {
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return fmt.Errorf("not an RS256 JWT: %w", err)
	}
	kid := tok.Headers[0].KeyID
	key, ok := set[kid]
	if !ok {
		return fmt.Errorf("agent identity JWT kid %q is not trusted (not in the agent JWKS)", kid)
	}
	var claims josejwt.Claims
	if err := tok.Claims(key, &claims); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if claims.Expiry == nil {
		return errors.New("no exp claim")
	}
	return claims.ValidateWithLeeway(josejwt.Expected{Issuer: AgentIssuer, AnyAudience: josejwt.Audience{AgentAudience}, Time: now}, 0)
}

// Claim-check failures of VerifyAgentIdentity, for errors.Is: a spec about
// the signature tells them apart from a bad signature.
var (
	ErrWrongIssuer   = josejwt.ErrInvalidIssuer
	ErrWrongAudience = josejwt.ErrInvalidAudience
)

// Forgeries of a signed JWT, for checking that a verifier refuses them
// (RFC 8725 §2.1, §3.1). Each keeps the original claims unless it says
// otherwise.

// ForgeAlgNone re-encodes the token with alg "none" and no signature.
func ForgeAlgNone(raw string) (string, error) {
	_, payload, err := splitJWT(raw)
	if err != nil {
		return "", err
	}
	return b64(`{"alg":"none","typ":"JWT"}`) + "." + payload + ".", nil
}

// ForgeHS256 signs the token's claims with HS256, keyed with the issuer's
// own public RSA key in PEM (the algorithm-confusion attack). Both the PKIX
// and the PKCS#1 encodings are returned.
func ForgeHS256(raw string, pub *rsa.PublicKey) ([]string, error) {
	hdr, payload, err := splitJWT(raw)
	if err != nil {
		return nil, err
	}
	kid := ""
	var h struct {
		Kid string `json:"kid"`
	}
	if b, err := base64.RawURLEncoding.DecodeString(hdr); err == nil && json.Unmarshal(b, &h) == nil {
		kid = h.Kid
	}
	header := b64(fmt.Sprintf(`{"alg":"HS256","typ":"JWT","kid":%q}`, kid))
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, key := range [][]byte{
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}),
	} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(header + "." + payload))
		out = append(out, header+"."+payload+"."+base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
	}
	return out, nil
}

// ForgeTamperedPayload changes one claim (the sub, or exp pushed a day out
// when there is no sub) and keeps the original header and signature.
func ForgeTamperedPayload(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("not a three-part JWT")
	}
	claims, err := DecodeJWTPayload(raw)
	if err != nil {
		return "", err
	}
	if sub, ok := claims["sub"].(string); ok {
		claims["sub"] = sub + "-someone-else"
	} else if exp, err := claims["exp"].(json.Number).Int64(); err == nil {
		claims["exp"] = exp + 86400
	} else {
		claims["tampered"] = true
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2], nil
}

func splitJWT(raw string) (header, payload string, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", "", errors.New("not a three-part JWT")
	}
	return parts[0], parts[1], nil
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
