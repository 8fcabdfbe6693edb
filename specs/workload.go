package specs

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// workload returns a federation rule and a workload identity token.
func workload(ctx SpecContext) (rule, assertion string) {
	GinkgoHelper()
	if target.Cfg.WorkloadAssertion != "" {
		return target.Cfg.FederationRuleID, target.Cfg.WorkloadAssertion
	}
	rule, assertion, err := target.Admin.WorkloadAssertion(ctx, target.Cfg.User)
	Expect(err).NotTo(HaveOccurred())
	return rule, assertion
}

func workloadExchange(ctx SpecContext) *wire.Exchange {
	GinkgoHelper()
	rule, assertion := workload(ctx)
	ex := client().WorkloadExchange(ctx, assertion, rule, "")
	expectStatus(ex, 200)
	return ex
}

var _ = Describe("Workload identity federation", func() {
	w := harness.CapWorkload
	Requirement("CDX-WIF-001", needs(w), func(ctx SpecContext) {
		m := workloadExchange(ctx).JSON()
		for _, k := range []string{"access_token", "scope", "chatgpt_account_id", "chatgpt_account_user_id", "user_id"} {
			Expect(m[k]).To(And(BeAssignableToTypeOf(""), Not(BeEmpty())), "%s", k)
		}
		Expect(m["token_type"]).To(MatchRegexp("(?i)^bearer$"))
		Expect(m["issued_token_type"]).To(Equal("urn:ietf:params:oauth:token-type:access_token"))
		Expect(m).To(HaveKey("expires_in"))
	})
	Requirement("CDX-WIF-002", needs(w), func(ctx SpecContext) {
		n, ok := workloadExchange(ctx).JSON()["expires_in"].(json.Number)
		Expect(ok).To(BeTrue(), "expires_in is not a number")
		v, err := n.Int64()
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(And(BeNumerically(">", 0), BeNumerically("<=", 3600)))
	})
	Requirement("CDX-WIF-003", needs(w), func(ctx SpecContext) {
		m := workloadExchange(ctx).JSON()
		at, _ := m["access_token"].(string)
		c, err := wire.DecodeJWTPayload(at)
		Expect(err).NotTo(HaveOccurred(), "codex 0.169.0 requires a JWT access token")
		a, ok := authObject(c)
		Expect(ok).To(BeTrue(), "no %s object in the access token", wire.ClaimAuth)
		Expect(a["chatgpt_user_id"]).To(Equal(m["user_id"]))
	})
	Requirement("CDX-WIF-004", needs(w), func(ctx SpecContext) {
		if p, ok := workloadExchange(ctx).JSON()["chatgpt_plan_type"]; ok && p != nil {
			Expect(p).To(And(BeAssignableToTypeOf(""), Not(BeEmpty())))
		}
	})
	Requirement("CDX-WIF-005", needs(w), func(ctx SpecContext) {
		rule, assertion := workload(ctx)
		if ex := client().WorkloadExchange(ctx, assertion, rule, ""); ex.Err != nil || ex.Status != 200 {
			blockedBy("CDX-WIF-001", "the assertion is not exchanged under its own rule: %s", ex)
		}
		expectRefused(client().WorkloadExchange(ctx, assertion, "fr_unknown_"+wire.NewState()[:8], ""), "an assertion under an unknown rule")
	})
	Requirement("CDX-WIF-006", needs(w), func(ctx SpecContext) {
		rule, assertion := workload(ctx)
		expectStatus(client().WorkloadExchange(ctx, assertion, rule, `{"cluster":"ci"}`), 200)
	})
})
