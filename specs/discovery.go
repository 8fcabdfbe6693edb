package specs

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/issuer/keys"
)

func discovery(ctx SpecContext) map[string]any {
	GinkgoHelper()
	ex := client().Get(ctx, "/.well-known/openid-configuration", nil)
	expectStatus(ex, 200)
	doc := ex.JSON()
	Expect(doc).NotTo(BeNil(), "discovery is not a JSON object: %s", ex)
	return doc
}

func jwks(ctx SpecContext) map[string]*rsa.PublicKey {
	GinkgoHelper()
	uri, _ := discovery(ctx)["jwks_uri"].(string)
	if uri == "" {
		uri = target.Issuer + "/.well-known/jwks.json"
	}
	ex := client().Get(ctx, strings.TrimPrefix(uri, target.Issuer), nil)
	expectStatus(ex, 200)
	var set keys.JWKS
	Expect(json.Unmarshal(ex.Body, &set)).To(Succeed(), "JWKS is not JSON: %s", ex)
	out := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if pub, err := keys.ParseJWK(k); err == nil && k.Kid != "" {
			out[k.Kid] = pub
		}
	}
	return out
}

var _ = Describe("Discovery and signing keys", func() {
	Requirement("CDX-DISC-001", nil, func(ctx SpecContext) {
		Expect(discovery(ctx)).To(HaveKeyWithValue("issuer", target.Issuer))
	})
	Requirement("CDX-DISC-002", nil, func(ctx SpecContext) {
		doc := discovery(ctx)
		for _, k := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "revocation_endpoint"} {
			v, _ := doc[k].(string)
			Expect(v).To(HavePrefix(target.Issuer+"/"), "%s = %q", k, v)
		}
	})
	Requirement("CDX-DISC-003", nil, func(ctx SpecContext) {
		Expect(jwks(ctx)).NotTo(BeEmpty(), "no usable RSA key (kty RSA, kid, n, e, ≥2048 bits) in the JWKS")
	})
	Requirement("CDX-DISC-004", nil, func(ctx SpecContext) {
		Expect(discovery(ctx)["code_challenge_methods_supported"]).To(ContainElement("S256"))
	})
	Requirement("CDX-DISC-005", nil, func(ctx SpecContext) {
		toks := login(ctx)
		set := jwks(ctx)
		for name, raw := range map[string]string{"id_token": toks.IDToken, "access_token": toks.AccessToken} {
			hb, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
			Expect(err).NotTo(HaveOccurred(), "%s header", name)
			var hdr map[string]any
			Expect(json.Unmarshal(hb, &hdr)).To(Succeed())
			Expect(hdr).To(HaveKeyWithValue("alg", "RS256"), "%s header", name)
			kid, _ := hdr["kid"].(string)
			Expect(set).To(HaveKey(kid), "%s kid %q is not in the JWKS", name, kid)
			_, err = jwt.Parse(raw, func(*jwt.Token) (any, error) { return set[kid], nil },
				jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
			Expect(err).NotTo(HaveOccurred(), "%s signature does not verify with JWKS key %s", name, kid)
		}
	})
})
