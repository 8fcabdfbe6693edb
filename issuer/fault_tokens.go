package issuer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/keys"
)

// This file is the token-shape seam of the fault catalogue (issuer/faults):
// a signer that wraps the production one. With no fault on it signs exactly
// as keySigner does; a fault edits the claims before signing or the signed
// token after.

// tokenFault is how one fault misshapes the issuer's JWTs.
type tokenFault struct {
	// kinds are the tokens it touches.
	kinds []tokenKind
	// claims edits the claims before they are signed.
	claims func(c jwt.MapClaims, env tokenFaultEnv)
	// signed edits the signed token.
	signed func(ctx context.Context, token string, env tokenFaultEnv) (string, error)
}

// tokenFaultEnv is what a token fault may use: the issuer URL and a way to
// sign segments golang-jwt would never produce.
type tokenFaultEnv struct {
	publicURL string
	keys      *keys.Manager
}

// chatgptTokens carry the https://api.openai.com/auth claim (contract §5.2).
var chatgptTokens = []tokenKind{idToken, accessToken, workloadAccessToken}

var allTokens = []tokenKind{idToken, accessToken, workloadAccessToken, agentIdentityToken, workloadAssertion}

// tokenFaults are the catalogue's token-shape faults.
var tokenFaults = map[string]tokenFault{
	faults.AuthClaimNotObject: {kinds: chatgptTokens, claims: func(c jwt.MapClaims, _ tokenFaultEnv) {
		c[ClaimAuth] = fmt.Sprintf("chatgpt_account_id=%v", authOf(c)["chatgpt_account_id"])
	}},
	faults.NoAccountID: {kinds: chatgptTokens, claims: func(c jwt.MapClaims, _ tokenFaultEnv) {
		delete(authOf(c), "chatgpt_account_id")
	}},
	faults.PlanNotString:  {kinds: chatgptTokens, claims: setAuthField("chatgpt_plan_type", 2)},
	faults.FedrampNotBool: {kinds: chatgptTokens, claims: setAuthField("chatgpt_account_is_fedramp", "false")},
	faults.EmailNotString: {kinds: []tokenKind{idToken}, claims: func(c jwt.MapClaims, _ tokenFaultEnv) { c["email"] = 42 }},
	faults.IssMismatch: {kinds: chatgptTokens, claims: func(c jwt.MapClaims, env tokenFaultEnv) {
		c["iss"] = env.publicURL + "/other"
	}},
	faults.ExpNotInteger: {kinds: []tokenKind{accessToken}, claims: func(c jwt.MapClaims, _ tokenFaultEnv) {
		c["exp"] = float64(unixClaim(c, "exp")) + 0.5
	}},
	// short-access-ttl and workload-ttl-7200 also rewrite expires_in
	// (fault_routes.go).
	faults.ShortAccessTTL:     {kinds: []tokenKind{accessToken, workloadAccessToken}, claims: lifetime(60 * time.Second)},
	faults.WorkloadTTLTooLong: {kinds: []tokenKind{workloadAccessToken}, claims: lifetime(2 * time.Hour)},
	faults.AgentIssWrong: {kinds: []tokenKind{agentIdentityToken}, claims: func(c jwt.MapClaims, env tokenFaultEnv) {
		c["iss"] = env.publicURL + "/codex-backend/agent-identity"
	}},
	faults.AgentAudArray: {kinds: []tokenKind{agentIdentityToken}, claims: func(c jwt.MapClaims, _ tokenFaultEnv) {
		c["aud"] = []any{c["aud"]}
	}},
	faults.PaddedJWT: {kinds: allTokens, signed: func(ctx context.Context, tok string, env tokenFaultEnv) (string, error) {
		header, payload, _ := splitJWT(tok)
		p, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			return "", err
		}
		for len(p)%3 == 0 { // JSON ignores trailing spaces; they make the padding appear
			p = append(p, ' ')
		}
		return env.resign(ctx, header, base64.URLEncoding.EncodeToString(p))
	}},
	faults.AgentNoKid: {kinds: []tokenKind{agentIdentityToken}, signed: func(ctx context.Context, tok string, env tokenFaultEnv) (string, error) {
		header, payload, _ := splitJWT(tok)
		h, err := base64.RawURLEncoding.DecodeString(header)
		if err != nil {
			return "", err
		}
		var fields map[string]any
		if err := json.Unmarshal(h, &fields); err != nil {
			return "", err
		}
		delete(fields, "kid")
		if h, err = json.Marshal(fields); err != nil {
			return "", err
		}
		return env.resign(ctx, base64.RawURLEncoding.EncodeToString(h), payload)
	}},
	faults.IDTokenTwoSegments: {kinds: []tokenKind{idToken}, signed: func(_ context.Context, tok string, _ tokenFaultEnv) (string, error) {
		header, payload, _ := splitJWT(tok)
		return header + "." + payload, nil
	}},
	faults.NonceDropped: {kinds: []tokenKind{idToken}, claims: func(c jwt.MapClaims, _ tokenFaultEnv) { delete(c, "nonce") }},
	faults.AuthTimeAtIssue: {kinds: []tokenKind{idToken}, claims: func(c jwt.MapClaims, _ tokenFaultEnv) {
		c["auth_time"] = c["iat"]
	}},
	faults.OpaqueAccessToken:   {kinds: []tokenKind{accessToken}, signed: opaque("at_")},
	faults.WorkloadOpaqueToken: {kinds: []tokenKind{workloadAccessToken}, signed: opaque("wat_")},
}

var tokenFaultNames = sortedKeys(tokenFaults)

// faultSigner applies the token faults that are on around next.
type faultSigner struct {
	next   tokenSigner
	faults *faults.Set
	env    tokenFaultEnv
}

func (f faultSigner) sign(ctx context.Context, kind tokenKind, claims jwt.MapClaims) (string, error) {
	var on []tokenFault
	for _, name := range tokenFaultNames {
		if tf := tokenFaults[name]; slices.Contains(tf.kinds, kind) && f.faults.Has(name) {
			on = append(on, tf)
		}
	}
	for _, tf := range on {
		if tf.claims != nil {
			tf.claims(claims, f.env)
		}
	}
	tok, err := f.next.sign(ctx, kind, claims)
	for _, tf := range on {
		if err == nil && tf.signed != nil {
			tok, err = tf.signed(ctx, tok, f.env)
		}
	}
	return tok, err
}

// resign signs header.payload with the active key, for shapes golang-jwt
// would never produce.
func (env tokenFaultEnv) resign(ctx context.Context, header, payload string) (string, error) {
	key, err := env.keys.Active(ctx)
	if err != nil {
		return "", err
	}
	sig, err := jwt.SigningMethodRS256.Sign(header+"."+payload, key.Private)
	if err != nil {
		return "", err
	}
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func splitJWT(tok string) (header, payload, signature string) {
	parts := strings.SplitN(tok, ".", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

func authOf(c jwt.MapClaims) map[string]any {
	a, _ := c[ClaimAuth].(map[string]any)
	if a == nil {
		a = map[string]any{}
	}
	return a
}

func setAuthField(name string, v any) func(jwt.MapClaims, tokenFaultEnv) {
	return func(c jwt.MapClaims, _ tokenFaultEnv) { authOf(c)[name] = v }
}

// lifetime sets exp to iat + d.
func lifetime(d time.Duration) func(jwt.MapClaims, tokenFaultEnv) {
	return func(c jwt.MapClaims, _ tokenFaultEnv) { c["exp"] = unixClaim(c, "iat") + int64(d/time.Second) }
}

func unixClaim(c jwt.MapClaims, name string) int64 {
	switch v := c[name].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return 0
}

// opaque replaces the JWT by a random opaque string.
func opaque(prefix string) func(context.Context, string, tokenFaultEnv) (string, error) {
	return func(context.Context, string, tokenFaultEnv) (string, error) { return prefix + random(32), nil }
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
