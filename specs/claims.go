package specs

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// idPayload logs in and returns the id_token's payload, failing on the
// §5.1 rules.
func idPayload(ctx SpecContext) (wire.Tokens, map[string]any) {
	GinkgoHelper()
	t := login(ctx)
	c, err := wire.DecodeJWTPayload(t.IDToken)
	if err != nil {
		blockedBy("CDX-CLAIMS-002", "codex cannot parse the id_token: %v", err)
	}
	return t, c
}

func authObject(c map[string]any) (map[string]any, bool) {
	a, ok := c[wire.ClaimAuth].(map[string]any)
	return a, ok
}

var _ = Describe("Token claims as codex parses them", func() {
	Requirement("CDX-CLAIMS-001", nil, func(ctx SpecContext) {
		t := login(ctx)
		parts := strings.Split(t.IDToken, ".")
		Expect(len(parts)).To(BeNumerically(">=", 3), "codex: \"invalid ID token format\"")
		for i, p := range parts[:3] {
			Expect(p).NotTo(BeEmpty(), "segment %d is empty", i+1)
		}
	})
	Requirement("CDX-CLAIMS-002", nil, func(ctx SpecContext) {
		t := login(ctx)
		_, err := wire.DecodeJWTPayload(t.IDToken)
		Expect(err).NotTo(HaveOccurred())
	})
	Requirement("CDX-CLAIMS-003", nil, func(ctx SpecContext) {
		_, c := idPayload(ctx)
		if v, ok := c["email"]; ok && v != nil {
			Expect(v).To(BeAssignableToTypeOf(""), "a non-string email aborts codex's login (EXP tk_email_num)")
		}
	})
	Requirement("CDX-CLAIMS-004", nil, func(ctx SpecContext) {
		_, c := idPayload(ctx)
		if v, ok := c[wire.ClaimAuth]; ok && v != nil {
			Expect(v).To(BeAssignableToTypeOf(map[string]any{}), "a non-object auth claim aborts codex's login (EXP tk_auth_str)")
		}
	})
	Requirement("CDX-CLAIMS-005", nil, func(ctx SpecContext) {
		_, c := idPayload(ctx)
		a, ok := authObject(c)
		Expect(ok).To(BeTrue(), "no %s object: codex logs in without an account id", wire.ClaimAuth)
		Expect(a["chatgpt_account_id"]).To(And(BeAssignableToTypeOf(""), Not(BeEmpty())), "chatgpt_account_id")
	})
	Requirement("CDX-CLAIMS-006", nil, func(ctx SpecContext) {
		_, c := idPayload(ctx)
		if a, ok := authObject(c); ok && a["chatgpt_plan_type"] != nil {
			Expect(a["chatgpt_plan_type"]).To(BeAssignableToTypeOf(""), "a non-string plan aborts codex's login (EXP tk_plan_num)")
		}
	})
	Requirement("CDX-CLAIMS-007", nil, func(ctx SpecContext) {
		_, c := idPayload(ctx)
		if a, ok := authObject(c); ok && a["chatgpt_account_is_fedramp"] != nil {
			Expect(a["chatgpt_account_is_fedramp"]).To(BeAssignableToTypeOf(true), "a non-boolean FedRAMP flag aborts codex's login (EXP tk_fedramp_str)")
		}
	})
	Requirement("CDX-CLAIMS-008", nil, func(ctx SpecContext) {
		_, c := idPayload(ctx)
		a, _ := authObject(c)
		uid, _ := a["chatgpt_user_id"].(string)
		if uid == "" {
			uid, _ = a["user_id"].(string)
		}
		Expect(uid).NotTo(BeEmpty(), "neither auth.chatgpt_user_id nor auth.user_id is a non-empty string")
	})
	Requirement("CDX-CLAIMS-009", nil, func(ctx SpecContext) {
		t := login(ctx)
		_, err := wire.DecodeJWTPayload(t.AccessToken)
		Expect(err).NotTo(HaveOccurred(), "an opaque access token makes codex refresh only every 8 days, whatever its real lifetime")
	})
	Requirement("CDX-CLAIMS-010", nil, func(ctx SpecContext) {
		t := login(ctx)
		_, err := wire.AccessExp(t.AccessToken)
		Expect(err).NotTo(HaveOccurred(), "without an integer exp codex cannot refresh before expiry")
	})
	Requirement("CDX-CLAIMS-011", nil, func(ctx SpecContext) {
		t := login(ctx)
		exp, err := wire.AccessExp(t.AccessToken)
		Expect(err).NotTo(HaveOccurred())
		left := time.Unix(exp, 0).Sub(target.IssuerNow(ctx))
		Expect(left).To(BeNumerically(">", harness.CodexWindow),
			"the access token lives %s: at or below 300 s codex refreshes before every command", left.Round(time.Second))
	})
	Requirement("CDX-CLAIMS-012", nil, func(ctx SpecContext) {
		t, c := idPayload(ctx)
		a, _ := authObject(c)
		at, err := wire.DecodeJWTPayload(t.AccessToken)
		Expect(err).NotTo(HaveOccurred())
		aa, ok := authObject(at)
		Expect(ok).To(BeTrue(), "access token has no %s object", wire.ClaimAuth)
		Expect(aa["chatgpt_account_id"]).To(Equal(a["chatgpt_account_id"]))
	})
	Requirement("CDX-CLAIMS-013", nil, func(ctx SpecContext) {
		_, c := idPayload(ctx)
		Expect(c["iss"]).To(Equal(target.Issuer))
	})
	Requirement("CDX-CLAIMS-014", nil, func(ctx SpecContext) {
		_, c := idPayload(ctx)
		email, _ := c["email"].(string)
		if profile, ok := c[wire.ClaimProfile].(map[string]any); ok && email == "" {
			email, _ = profile["email"].(string)
		}
		Expect(email).To(ContainSubstring("@"), "no email string at top level or under %s", wire.ClaimProfile)
	})
})
