package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// ---- gateway validation

func validate(ctx SpecContext, secret string, body map[string]string) *wire.Exchange {
	return client().Validate(ctx, target.Cfg.ValidateURL, secret, body)
}

func bearer(token string) map[string]string {
	return map[string]string{"scheme": "bearer", "token": token}
}

func assertionBody(as string) map[string]string {
	return map[string]string{"scheme": "agent_assertion", "assertion": as}
}

func expectValid(ex *wire.Exchange, what string) {
	GinkgoHelper()
	expectStatus(ex, 200)
	Expect(ex.Str("user_id")).NotTo(BeEmpty(), "%s validated without a user_id: %s", what, ex)
}

func expectInvalid(ex *wire.Exchange, what string) {
	GinkgoHelper()
	Expect(ex.Err).NotTo(HaveOccurred())
	Expect(ex.Status).To(And(BeNumerically(">=", 400), BeNumerically("<", 500)), "%s was not refused: %s", what, ex)
}

// givenValidBearer signs in and shows the live access token validates
// (blocked by CDX-VAL-002): a refusal of something else then means
// something.
func givenValidBearer(ctx SpecContext) wire.Tokens {
	GinkgoHelper()
	t := login(ctx)
	if ex := validate(ctx, target.Cfg.InternalSecret, bearer(t.AccessToken)); ex.Err != nil || ex.Status != 200 || ex.Str("user_id") == "" {
		blockedBy("CDX-VAL-002", "a live access token does not validate: %s", ex)
	}
	return t
}

// givenAssertion registers a task and shows a fresh assertion for it
// validates (blocked by CDX-AGENT-009 or CDX-VAL-005); it returns the agent
// and the task.
func givenAssertion(ctx SpecContext, a wire.AgentIdentity) string {
	GinkgoHelper()
	task := registerTask(ctx, a)
	as := wire.Assertion(a.RuntimeID, task, wire.Timestamp(target.IssuerNow(ctx)), a.Key)
	if ex := validate(ctx, target.Cfg.InternalSecret, assertionBody(as)); ex.Err != nil || ex.Status != 200 {
		blockedBy("CDX-VAL-005", "a fresh assertion for a registered task does not validate: %s", ex)
	}
	return task
}

var _ = Describe("Gateway validation", func() {
	v, ai := harness.CapValidate, harness.CapAgentIdentity
	Requirement("CDX-VAL-001", needs(v), func(ctx SpecContext) {
		body := bearer(givenValidBearer(ctx).AccessToken)
		expectInvalid(validate(ctx, "", body), "a request without X-Internal-Secret")
		expectInvalid(validate(ctx, "wrong-secret-wrong-secret", body), "a request with a wrong secret")
		expectInvalid(validate(ctx, target.Cfg.InternalSecret+"x", body), "a request with a secret that is one character longer")
	})
	Requirement("CDX-VAL-002", needs(v), func(ctx SpecContext) {
		t := login(ctx)
		expectValid(validate(ctx, target.Cfg.InternalSecret, bearer(t.AccessToken)), "a live access token")
	})
	Requirement("CDX-VAL-003", needs(v), func(ctx SpecContext) {
		t := givenValidBearer(ctx)
		givenRevoke(ctx, t.RefreshToken)
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, bearer(t.AccessToken)), "an access token of a revoked family")
	})
	Requirement("CDX-VAL-004", needs(v), func(ctx SpecContext) {
		t := givenValidBearer(ctx)
		body := bearer(t.AccessToken)
		body["account_id"] = "acct_someone_else"
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, body), "a token checked against another account")
	})
	Requirement("CDX-VAL-005", needs(v, ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		task := registerTask(ctx, a)
		as := wire.Assertion(a.RuntimeID, task, wire.Timestamp(target.IssuerNow(ctx)), a.Key)
		expectValid(validate(ctx, target.Cfg.InternalSecret, assertionBody(as)), "a fresh assertion")
	})
	Requirement("CDX-VAL-006", needs(v, ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		task := registerTask(ctx, a)
		body := assertionBody(wire.Assertion(a.RuntimeID, task, wire.Timestamp(target.IssuerNow(ctx)), a.Key))
		if ex := validate(ctx, target.Cfg.InternalSecret, body); ex.Err != nil || ex.Status != 200 {
			blockedBy("CDX-VAL-005", "the first use of a fresh assertion does not validate: %s", ex)
		}
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, body), "a replayed assertion")
	})
	Requirement("CDX-VAL-007", needs(v, ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		task := givenAssertion(ctx, a)
		forged := wire.Assertion(a.RuntimeID, task, wire.Timestamp(target.IssuerNow(ctx)), otherKey())
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, assertionBody(forged)), "an assertion signed with another key")
	})
	Requirement("CDX-VAL-008", needs(v, ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		task := givenAssertion(ctx, a)
		stale := wire.Assertion(a.RuntimeID, task, wire.Timestamp(target.IssuerNow(ctx).Add(-6*time.Minute)), a.Key)
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, assertionBody(stale)), "an assertion 6 minutes old")
	})
	Requirement("CDX-VAL-009", needs(v, ai), func(ctx SpecContext) {
		agents := agentIdentities(ctx, 2)
		givenAssertion(ctx, agents[0])
		otherTask := givenAssertion(ctx, agents[1])
		as := wire.Assertion(agents[0].RuntimeID, otherTask, wire.Timestamp(target.IssuerNow(ctx)), agents[0].Key)
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, assertionBody(as)), "an assertion naming another agent's task")
	})
	Requirement("CDX-VAL-010", needs(v), func(ctx SpecContext) {
		givenValidBearer(ctx)
		for _, body := range []map[string]string{
			{"scheme": "bearer", "token": "garbage"},
			{"scheme": "bearer", "token": "a.b.c"},
			{"scheme": "agent_assertion", "assertion": "%%%"},
			{"scheme": "agent_assertion", "assertion": "e30"},
			{"scheme": "bogus"},
			{},
		} {
			expectInvalid(validate(ctx, target.Cfg.InternalSecret, body), "garbage")
		}
	})
	Requirement("CDX-VAL-011", needs(v, harness.CapKeyRotation), func(ctx SpecContext) {
		t := givenValidBearer(ctx)
		_, err := target.Admin.RotateKeys(ctx)
		Expect(err).NotTo(HaveOccurred())
		expectValid(validate(ctx, target.Cfg.InternalSecret, bearer(t.AccessToken)), "a token issued before the rotation")
	})
	Requirement("CDX-VAL-012", needs(v), func(ctx SpecContext) {
		forged, err := wire.ForgeAlgNone(givenValidBearer(ctx).AccessToken)
		Expect(err).NotTo(HaveOccurred())
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, bearer(forged)), "an access token with alg none and no signature")
	})
	Requirement("CDX-VAL-013", needs(v), func(ctx SpecContext) {
		t := givenValidBearer(ctx)
		kid, _, err := wire.VerifyRS256(t.AccessToken, jwks(ctx))
		if err != nil {
			blockedBy("CDX-DISC-005", "the access token does not verify with the JWKS: %v", err)
		}
		forgeries, err := wire.ForgeHS256(t.AccessToken, jwks(ctx)[kid])
		Expect(err).NotTo(HaveOccurred())
		for _, forged := range forgeries {
			expectInvalid(validate(ctx, target.Cfg.InternalSecret, bearer(forged)), "an access token signed HS256 with the issuer's public key as the secret")
		}
	})
	Requirement("CDX-VAL-014", needs(v), func(ctx SpecContext) {
		forged, err := wire.ForgeTamperedPayload(givenValidBearer(ctx).AccessToken)
		Expect(err).NotTo(HaveOccurred())
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, bearer(forged)), "an access token whose payload was altered under the original signature")
	})
	Requirement("CDX-VAL-015", needs(v, harness.CapExpiry), func(ctx SpecContext) {
		t := givenValidBearer(ctx)
		exp, err := wire.AccessExp(t.AccessToken)
		if err != nil {
			blockedBy("CDX-CLAIMS-010", "%v", err)
		}
		left := time.Unix(exp, 0).Sub(target.IssuerNow(ctx))
		if err := target.Advance(ctx, left+2*time.Second); err != nil {
			notRun("%v", err)
		}
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, bearer(t.AccessToken)), "an expired access token")
	})
	Requirement("CDX-VAL-016", needs(v), func(ctx SpecContext) {
		t := givenValidBearer(ctx)
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, bearer(t.IDToken)), "an id_token presented as an access token")
	})
})
