package specs

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// pat mints a personal access token (admin API) or uses the deployment's.
func pat(ctx SpecContext) string {
	GinkgoHelper()
	if tok := target.Cfg.PersonalAccessToken; tok != "" {
		return tok
	}
	tok, err := target.Admin.MintPAT(ctx, target.Cfg.User)
	Expect(err).NotTo(HaveOccurred())
	return tok
}

func whoami(ctx SpecContext, tok string) *wire.Exchange {
	return client().Do(ctx, http.MethodGet, client().Endpoints.AuthAPIBase+"/v1/user-auth-credential/whoami", "", "",
		map[string]string{"Authorization": "Bearer " + tok, "User-Agent": wire.UserAgent})
}

// givenPAT shows a live personal access token resolves (blocked by
// CDX-PAT-001).
func givenPAT(ctx SpecContext) string {
	GinkgoHelper()
	tok := pat(ctx)
	if ex := whoami(ctx, tok); ex.Err != nil || ex.Status/100 != 2 {
		blockedBy("CDX-PAT-001", "whoami does not resolve a live personal access token: %s", ex)
	}
	return tok
}

var _ = Describe("Personal access tokens", func() {
	p := harness.CapPAT
	Requirement("CDX-PAT-001", needs(p), func(ctx SpecContext) {
		ex := whoami(ctx, pat(ctx))
		expectStatus(ex, 200)
		m := ex.JSON()
		for _, k := range []string{"chatgpt_user_id", "chatgpt_account_id", "chatgpt_plan_type"} {
			Expect(m[k]).To(And(BeAssignableToTypeOf(""), Not(BeEmpty())), "%s: codex fails with \"failed to decode personal access token metadata\" (%s)", k, ex)
		}
		Expect(m["chatgpt_account_is_fedramp"]).To(BeAssignableToTypeOf(true), "%s", ex)
	})
	Requirement("CDX-PAT-002", needs(p), func(ctx SpecContext) {
		ex := whoami(ctx, pat(ctx))
		expectStatus(ex, 200)
		if e, ok := ex.JSON()["email"]; ok && e != nil {
			Expect(e).To(BeAssignableToTypeOf(""))
		}
	})
	Requirement("CDX-PAT-003", needs(p), func(ctx SpecContext) {
		givenPAT(ctx)
		ex := whoami(ctx, "at-unknown-"+wire.NewState())
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status/100).NotTo(Equal(2), "an unknown personal access token was accepted: %s", ex)
	})
	Requirement("CDX-PAT-004", needs(p), func(ctx SpecContext) {
		if target.Admin == nil {
			Skip(NotRunPrefix + "revoking tokens through the admin API (--admin-token)")
		}
		tok := givenPAT(ctx)
		Expect(target.Admin.RevokePAT(ctx, tok)).To(Succeed())
		ex := whoami(ctx, tok)
		Expect(ex.Err).NotTo(HaveOccurred())
		Expect(ex.Status/100).To(Equal(4), "a revoked personal access token is not refused: %s", ex)
	})
	Requirement("CDX-PAT-005", needs(p, harness.CapApprove), func(ctx SpecContext) {
		ex := whoami(ctx, pat(ctx))
		expectStatus(ex, 200)
		t := login(ctx)
		Expect(ex.JSON()["chatgpt_account_id"]).To(Equal(accountOf(t.IDToken)))
	})
})
