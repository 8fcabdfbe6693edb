package specs

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness/wire"
)

func discovery(ctx SpecContext) map[string]any {
	GinkgoHelper()
	ex := client().Get(ctx, "/.well-known/openid-configuration", nil)
	expectStatus(ex, 200)
	doc := ex.JSON()
	Expect(doc).NotTo(BeNil(), "discovery is not a JSON object: %s", ex)
	return doc
}

// jwks fetches the token-signing keys through discovery's jwks_uri, parsed
// by the harness's own JOSE code (never the issuer's).
func jwks(ctx SpecContext) wire.KeySet {
	GinkgoHelper()
	uri, _ := discovery(ctx)["jwks_uri"].(string)
	if uri == "" {
		uri = target.Issuer + "/.well-known/jwks.json"
	}
	return fetchJWKS(ctx, uri)
}

// fetchJWKS reads a JWK Set at an absolute URL.
func fetchJWKS(ctx SpecContext, url string) wire.KeySet {
	GinkgoHelper()
	ex := client().Do(ctx, http.MethodGet, url, "", "", nil)
	expectStatus(ex, 200)
	set, problems, err := wire.ParseJWKS(ex.Body)
	Expect(err).NotTo(HaveOccurred(), "%s", ex)
	if len(problems) > 0 { // evidence: what the suite skipped or could not use, also when some key is usable
		GinkgoWriter.Printf("JWKS %s: %d usable keys; %s\n", url, len(set), strings.Join(problems, "; "))
	}
	return set
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
			_, _, err = wire.VerifyRS256(raw, set)
			Expect(err).NotTo(HaveOccurred(), "%s", name)
		}
	})
})
