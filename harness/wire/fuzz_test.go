package wire

// Fuzz targets for everything the harness parses from an issuer (issue 15):
// token responses, JWTs and their claims, JWKS and signatures, discovery and
// redirects, error bodies. The harness is pointed at deployments nobody here
// controls, so each target asserts more than "no panic": a success always
// means what it claims (the fields are there, with the types codex needs; a
// verified signature verifies independently), and classification is
// consistent. `go test ./harness/wire` replays the seeds; scripts/fuzz.sh
// explores.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
)

// fakeIssuer answers every request with one status and body, in process.
type fakeIssuer struct {
	status int
	header http.Header
	body   []byte
}

func (f fakeIssuer) RoundTrip(r *http.Request) (*http.Response, error) {
	h := f.header
	if h == nil {
		h = http.Header{"Content-Type": {"application/json"}}
	}
	return &http.Response{StatusCode: f.status, Header: h, Body: io.NopCloser(bytes.NewReader(f.body)), Request: r,
		ContentLength: int64(len(f.body))}, nil
}

func fakeClient(status int, body []byte) *Client {
	c := NewClient("https://issuer.test", "")
	c.HTTP.Transport = fakeIssuer{status: status, body: body}
	// No timer: its goroutine would make coverage nondeterministic, and the
	// fuzzer would chase it instead of inputs.
	c.HTTP.Timeout = 0
	return c
}

// anyStatus maps a fuzzed int onto an HTTP status 100..599.
func anyStatus(n int) int {
	if n < 0 {
		n = -n
	}
	return 100 + n%500
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwtSeeds are tokens in the shapes issuers emit and get wrong.
func jwtSeeds() []string {
	hdr := b64url([]byte(`{"alg":"RS256","kid":"k1","typ":"JWT"}`))
	claims := []string{
		`{"email":"a@example.com","https://api.openai.com/auth":{"chatgpt_account_id":"acct","chatgpt_user_id":"u","chatgpt_plan_type":"plus","chatgpt_account_is_fedramp":false},"exp":1700000000}`,
		`{"email":5}`, `{"https://api.openai.com/auth":"x"}`, `{"https://api.openai.com/auth":{"chatgpt_plan_type":1}}`,
		`{"https://api.openai.com/auth":{"chatgpt_account_is_fedramp":"no"}}`, `{"exp":1.5}`, `{"exp":"1"}`, `{"exp":1e400}`,
		`[]`, `null`, `{"a":"\xff\xfe"}`, `{"https://api.openai.com/profile":{"email":"p@example.com"}}`, strings.Repeat(`{"a":`, 50) + `1` + strings.Repeat(`}`, 50),
	}
	var out []string
	for _, c := range claims {
		out = append(out, hdr+"."+b64url([]byte(c))+".c2ln")
	}
	return append(out, "a.b.c", "..", "a..c", hdr+"."+base64.URLEncoding.EncodeToString([]byte(`{"a":1}`))+".s",
		hdr+"."+base64.StdEncoding.EncodeToString([]byte(`{"a":"??>>"}`))+".s", "x.y.z.w", "", "\xff.\xfe.\xfd")
}

// FuzzJWT: codex's JWT rules (§5.1) and claim checks (§5.2, §5.3). A
// payload that is padded or uses the standard alphabet is refused; every
// success rests on a successful decode, and reports the claims as they are.
func FuzzJWT(f *testing.F) {
	for _, s := range jwtSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		claims, derr := DecodeJWTPayload(raw)
		info, perr := ParseIDToken(raw)
		exp, eerr := AccessExp(raw)
		parts := strings.Split(raw, ".")
		if derr != nil {
			if perr == nil || eerr == nil {
				t.Fatalf("claims checks passed on an undecodable JWT %q: %v", raw, derr)
			}
			return
		}
		if claims == nil || len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" || strings.ContainsAny(parts[1], "=+/") {
			t.Fatalf("decoded %q, which breaks §5.1", raw)
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(parts[1]); err != nil {
			t.Fatalf("decoded a payload that is not unpadded base64url: %v", err)
		}
		padded := parts[0] + "." + parts[1] + "=." + strings.Join(parts[2:], ".")
		if _, err := DecodeJWTPayload(padded); err == nil {
			t.Fatalf("a padded payload decodes: %q", padded)
		}
		if perr == nil {
			if v, ok := claims["email"]; ok && v != nil {
				if s, isStr := v.(string); !isStr || s != info.Email {
					t.Fatalf("email %v accepted as %q", v, info.Email)
				}
			}
			if av, ok := claims[ClaimAuth]; ok && av != nil {
				auth, isObj := av.(map[string]any)
				if !isObj || !info.HasAuth {
					t.Fatalf("auth claim %v accepted (HasAuth %v)", av, info.HasAuth)
				}
				if v, ok := auth["chatgpt_plan_type"]; ok && v != nil && v != any(info.PlanType) {
					t.Fatalf("plan %v read as %q", v, info.PlanType)
				}
				if v, ok := auth["chatgpt_account_is_fedramp"]; ok && v != nil && v != any(info.FedRAMP) {
					t.Fatalf("fedramp %v read as %v", v, info.FedRAMP)
				}
			} else if info.HasAuth {
				t.Fatal("HasAuth without an auth claim")
			}
		}
		if eerr == nil {
			n, ok := claims["exp"].(json.Number)
			if v, err := n.Int64(); !ok || err != nil || v != exp {
				t.Fatalf("exp %v read as %d", claims["exp"], exp)
			}
		}
	})
}

// FuzzTokenResponses: every answer body the harness parses into tokens or
// a device grant, through the client as it reads them (the answer bounded,
// then parsed). A parsed login has all three tokens as strings; a refresh
// only succeeds on a JSON object whose id_token, if any, parses; a device
// grant has its three strings; a device code keeps interval raw.
func FuzzTokenResponses(f *testing.F) {
	for _, b := range []string{
		`{"id_token":"a.b.c","access_token":"x","refresh_token":"y"}`, `{"id_token":null,"access_token":"x"}`,
		`{"access_token":5}`, `null`, `[]`, `"x"`, `{"id_token":"` + jwtSeeds()[0] + `","access_token":"x","refresh_token":"y"}`,
		`{"authorization_code":"ac","code_challenge":"c","code_verifier":"v"}`, `{"authorization_code":1}`,
		`{"device_auth_id":"d","user_code":"U","interval":"5"}`, `{"device_auth_id":"d","usercode":"U","interval":5}`,
		`{"a":1} {"b":2}`, "{\"access_token\":\"\xff\"}", strings.Repeat("[", 20000),
	} {
		f.Add(200, []byte(b))
	}
	f.Add(503, []byte(`{"error":"temporarily_unavailable"}`))
	f.Fuzz(func(t *testing.T, st int, body []byte) {
		c := fakeClient(anyStatus(st), body)
		ctx := context.Background()
		ex := c.Refresh(ctx, "rt", "proactive_expiry")
		if len(body) > MaxResponseBody {
			if !errors.Is(ex.Err, ErrBodyTooLarge) || ex.Body != nil {
				t.Fatalf("a %d-byte answer read as %d bytes, error %v", len(body), len(ex.Body), ex.Err)
			}
			return
		}
		if ex.Err != nil || !bytes.Equal(ex.Body, body) {
			t.Fatalf("the client altered a %d-byte answer: %v", len(body), ex.Err)
		}
		var raw map[string]any
		isObject := json.Unmarshal(body, &raw) == nil && raw != nil
		if toks, err := ParseTokens(ex); err == nil {
			if !isObject || raw["id_token"] != any(toks.IDToken) || raw["access_token"] != any(toks.AccessToken) ||
				raw["refresh_token"] != any(toks.RefreshToken) || !toks.HasIDToken || !toks.HasRefreshToken {
				t.Fatalf("ParseTokens accepted %q as %+v", body, toks)
			}
		}
		if r, err := ParseRefresh(ex); err == nil {
			if !isObject {
				t.Fatalf("ParseRefresh accepted %q, not a JSON object", body)
			}
			if v, ok := raw["id_token"]; ok && v != nil {
				if _, err := ParseIDToken(r.IDToken); err != nil || v != any(r.IDToken) {
					t.Fatalf("ParseRefresh kept an id_token codex cannot use: %q", r.IDToken)
				}
			}
			if s, _ := raw["access_token"].(string); s != r.AccessToken {
				t.Fatalf("access_token %v read as %q", raw["access_token"], r.AccessToken)
			}
		}
		if g, err := ParseDeviceGrant(ex); err == nil {
			for k, v := range map[string]string{"authorization_code": g.AuthorizationCode, "code_challenge": g.CodeChallenge, "code_verifier": g.CodeVerifier} {
				if raw[k] != any(v) {
					t.Fatalf("device grant %s %v read as %q", k, raw[k], v)
				}
			}
		}
		d, dex := c.RequestDeviceCode(ctx)
		if dex.Err != nil {
			t.Fatalf("device code request: %v", dex.Err)
		}
		if d.IntervalIsString() {
			var s string
			if json.Unmarshal([]byte(d.IntervalRaw), &s) != nil || strings.TrimSpace(s) == "" || strings.Trim(strings.TrimSpace(s), "0123456789") != "" {
				t.Fatalf("interval %s taken for a string of digits", d.IntervalRaw)
			}
		}
		if d.UserCode != "" && !isObject {
			t.Fatalf("a user code %q from %q", d.UserCode, body)
		}
	})
}

// FuzzErrorBodies: error codes as codex extracts them (§6.5) and the
// refresh classification built on them. A 2xx is OK and nothing else is;
// the three refresh-token codes are permanent with their reasons whatever the
// status; a 5xx without them is transient (an outage never ends a sign-in);
// codes are lower-case; a body without a JSON object is displayed as is.
func FuzzErrorBodies(f *testing.F) {
	for _, s := range []struct {
		st   int
		body string
	}{
		{400, `{"error":"refresh_token_reused"}`}, {401, `{"error":{"code":"REFRESH_TOKEN_EXPIRED","message":"m"}}`},
		{400, `{"code":"refresh_token_invalidated"}`}, {400, `{"error":"invalid_grant","error_description":"d"}`},
		{503, `{"error":"temporarily_unavailable"}`}, {500, `<html>`}, {401, ``}, {403, `{"error":5}`},
		{200, `{"error":"refresh_token_reused"}`}, {502, `{"error":{"code":null}}`}, {400, "{\"error\":\"\xff\"}"},
	} {
		f.Add(s.st, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, st int, body []byte) {
		status := anyStatus(st)
		code := ErrorCode(body)
		if code != strings.ToLower(code) {
			t.Fatalf("ErrorCode %q is not lower-case", code)
		}
		if code != "" && !json.Valid(body) {
			t.Fatalf("ErrorCode %q from a body that is not JSON", code)
		}
		class, reason := ClassifyRefresh(status, body)
		want := map[string]string{"refresh_token_expired": "expired", "refresh_token_reused": "exhausted", "refresh_token_invalidated": "revoked"}
		switch {
		case status/100 == 2:
			if class != RefreshOK || reason != "" {
				t.Fatalf("%d classified %s %s", status, class, reason)
			}
		case want[code] != "":
			if class != RefreshPermanent || reason != want[code] {
				t.Fatalf("%d %s classified %s %s", status, code, class, reason)
			}
		case status >= 500:
			if class != RefreshTransient || reason != "" {
				t.Fatalf("%d %s classified %s %s: an outage would end the sign-in", status, code, class, reason)
			}
		case class == RefreshOK:
			t.Fatalf("%d classified OK", status)
		case (class == RefreshPermanent) != (reason != ""):
			t.Fatalf("%d %s classified %s with reason %q", status, code, class, reason)
		}
		var obj map[string]any
		switch shown := DeviceTokenDisplay(body); {
		case len(body) == 0 && shown != "unknown error":
			t.Fatalf("an empty error body displayed as %q", shown)
		case len(body) > 0 && (json.Unmarshal(body, &obj) != nil || obj == nil) && shown != string(body):
			t.Fatalf("a body that is no JSON object displayed as %q, not as itself", shown)
		}
		ex := &Exchange{Method: "POST", URL: "https://issuer.test/oauth/token", Status: status, Body: body}
		if s := ex.String(); len(s) > len(ex.Method)+len(ex.URL)+2000 || !utf8.ValidString(s) {
			t.Fatalf("an exchange renders as %d bytes, UTF-8: %v", len(s), utf8.ValidString(s))
		}
	})
}

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

func fuzzKey(tb testing.TB) *rsa.PrivateKey {
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

// FuzzJWKS: a JWK Set and a token checked against it (RFC 7517 §5, RFC
// 7515). Every kept key is RSA of at least 2048 bits, at most maxJWKSKeys are
// examined, and a token that verifies against the fuzzed set verifies
// independently (crypto/rsa over the signing input) with the key of its kid.
func FuzzJWKS(f *testing.F) {
	key := fuzzKey(f)
	jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	jws, _ := signer.Sign([]byte(`{"sub":"alice","exp":1700000000}`))
	token, _ := jws.CompactSerialize()
	f.Add(set, token)
	f.Add(set, token[:len(token)-2]+"AA")
	f.Add(set, "eyJhbGciOiJub25lIn0.e30.")
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"},{"kty":"EC","kid":"e"},{"kty":"oct","k":"AA"},{}]}`), token)
	f.Add([]byte(`{"keys":null}`), "")
	f.Add([]byte(`{"keys":{}}`), "")
	f.Add([]byte(`{"keys":[`+strings.Repeat(`{"kty":"RSA"},`, 100)+`{}]}`), "")
	f.Add([]byte(`[`), "a.b.c")
	f.Fuzz(func(t *testing.T, body []byte, raw string) {
		keys, problems, err := ParseJWKS(body)
		if err != nil {
			if keys != nil {
				t.Fatal("keys with an error")
			}
			return
		}
		if len(keys) > maxJWKSKeys || len(problems) > maxJWKSKeys+1 {
			t.Fatalf("%d keys and %d problems kept from one document", len(keys), len(problems))
		}
		for kid, k := range keys {
			if kid == "" || k == nil || k.N.BitLen() < 2048 || k.E < 3 {
				t.Fatalf("key %q kept: %v bits, e=%d", kid, k.N.BitLen(), k.E)
			}
		}
		kid, payload, verr := VerifyRS256(raw, keys)
		if verr != nil {
			return
		}
		pub, ok := keys[kid]
		parts := strings.Split(raw, ".")
		if !ok || len(parts) != 3 {
			t.Fatalf("verified %q with kid %q not in the set", raw, kid)
		}
		sig, err1 := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err1 != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
			t.Fatalf("go-jose verified %q, crypto/rsa does not", raw)
		}
		if want, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || !bytes.Equal(want, payload) {
			t.Fatalf("verified payload %q is not the token's", payload)
		}
	})
}

// FuzzDiscovery: a discovery document and a redirect as the suite reads
// them. A document is an object or nothing; a callback parses only when it
// goes to the very redirect URI it was meant for.
func FuzzDiscovery(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://issuer.test","authorization_endpoint":"https://issuer.test/oauth/authorize","token_endpoint":"https://issuer.test/oauth/token","jwks_uri":"https://issuer.test/.well-known/jwks.json","code_challenge_methods_supported":["S256"]}`),
		"http://127.0.0.1:1455/auth/callback?code=ac&state=s")
	f.Add([]byte(`{"issuer":5,"jwks_uri":null}`), "http://127.0.0.1:1455/auth/callback/../x?code=a")
	f.Add([]byte(`[]`), "http://evil.test/auth/callback?code=a")
	f.Add([]byte(`{"a":1} trailing`), "//127.0.0.1:1455/auth/callback")
	f.Add([]byte("{\"issuer\":\"\xff\"}"), "http://127.0.0.1:1455/auth/callback?error=access_denied&error_description=%FF")
	f.Add([]byte(strings.Repeat(`{"a":`, 20000)), "%zz")
	f.Fuzz(func(t *testing.T, body []byte, location string) {
		ex := &Exchange{Method: http.MethodGet, URL: "https://issuer.test/.well-known/openid-configuration", Status: 200, Body: body}
		doc := ex.JSON()
		if doc != nil {
			dec := json.NewDecoder(bytes.NewReader(body))
			var first json.RawMessage
			if dec.Decode(&first) != nil || !bytes.HasPrefix(bytes.TrimLeft(first, " \t\r\n"), []byte("{")) {
				t.Fatalf("a discovery document from %q", body)
			}
		}
		for _, k := range []string{"issuer", "jwks_uri", "token_endpoint"} {
			_, _ = doc[k].(string) // as the specs read it: absent, null or another type is ""
		}
		const redirect = "http://127.0.0.1:1455/auth/callback"
		cb, err := ParseCallback(location, redirect)
		if err != nil {
			return
		}
		if cb.URL.Scheme != "http" || cb.URL.Host != "127.0.0.1:1455" || cb.URL.Path != "/auth/callback" {
			t.Fatalf("callback %q accepted for %s", location, redirect)
		}
		if cb.Code != cb.URL.Query().Get("code") || cb.State != cb.URL.Query().Get("state") {
			t.Fatalf("callback %q read as %+v", location, cb)
		}
	})
}
