package specs

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// agentIdentity mints a fresh identity through the admin API, or uses the
// one the deployment supplied (--agent-identity).
func agentIdentity(ctx SpecContext) wire.AgentIdentity {
	GinkgoHelper()
	raw := target.Cfg.AgentIdentity
	if target.Admin != nil && target.Caps(harness.CapAgentIdentity) && raw == "" {
		var err error
		raw, err = target.Admin.MintAgentIdentity(ctx, target.Cfg.User, "")
		Expect(err).NotTo(HaveOccurred())
	}
	a, err := wire.ParseAgentIdentity(raw)
	Expect(err).NotTo(HaveOccurred(), "codex cannot decode the agent identity JWT")
	return a
}

func needsMinting() {
	if target.Admin == nil {
		Skip(NotRunPrefix + "minting identities through the admin API (--admin-token)")
	}
}

// agentJWKSPath is where codex fetches the agent-identity keys (§8.1).
const agentJWKSPath = "/backend-api/wham/agent-identities/jwks"

// verifyAgentJWT reproduces codex's verification (§8.1): RS256 only, the
// kid looked up in the agent JWKS, literal iss and aud, exp enforced.
func verifyAgentJWT(ctx SpecContext, raw string) error {
	return wire.VerifyAgentIdentity(raw, fetchJWKS(ctx, agentJWKSPath), target.IssuerNow(ctx))
}

func registerTask(ctx SpecContext, a wire.AgentIdentity) string {
	GinkgoHelper()
	ex := client().RegisterTask(ctx, a, wire.Timestamp(target.IssuerNow(ctx)), nil)
	expectStatus(ex, 200, 201)
	id, err := wire.TaskIDFor(ex, a.Key)
	Expect(err).NotTo(HaveOccurred())
	return id
}

func otherKey() ed25519.PrivateKey {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return k
}

var _ = Describe("Agent identity", func() {
	ai := harness.CapAgentIdentity
	Requirement("CDX-AGENT-001", needs(ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		Expect(a.Header).To(HaveKeyWithValue("alg", "RS256"))
		Expect(a.Header["kid"]).To(And(BeAssignableToTypeOf(""), Not(BeEmpty())), "codex looks the key up by kid")
	})
	Requirement("CDX-AGENT-002", needs(ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		kid, _ := a.Header["kid"].(string)
		Expect(fetchJWKS(ctx, agentJWKSPath)).To(HaveKey(kid), "codex: \"agent identity JWT kid %s is not trusted\"", kid)
		err := verifyAgentJWT(ctx, a.Raw)
		if err != nil && !errors.Is(err, wire.ErrWrongIssuer) && !errors.Is(err, wire.ErrWrongAudience) {
			Fail("signature does not verify with the published key: " + err.Error())
		}
	})
	Requirement("CDX-AGENT-003", needs(ai), func(ctx SpecContext) {
		Expect(agentIdentity(ctx).Claims["iss"]).To(Equal(wire.AgentIssuer))
	})
	Requirement("CDX-AGENT-004", needs(ai), func(ctx SpecContext) {
		Expect(agentIdentity(ctx).Claims["aud"]).To(Equal(wire.AgentAudience), "aud must be the string, not a list")
	})
	Requirement("CDX-AGENT-005", needs(ai), func(ctx SpecContext) {
		c := agentIdentity(ctx).Claims
		for _, k := range []string{"iat", "exp"} {
			n, ok := c[k].(json.Number)
			Expect(ok).To(BeTrue(), "%s is not a number", k)
			_, err := n.Int64()
			Expect(err).NotTo(HaveOccurred(), "%s is not an integer", k)
		}
		exp, _ := c["exp"].(json.Number).Int64()
		Expect(exp).To(BeNumerically(">", target.IssuerNow(ctx).Unix()))
	})
	Requirement("CDX-AGENT-006", needs(ai), func(ctx SpecContext) {
		c := agentIdentity(ctx).Claims
		for _, k := range []string{"agent_runtime_id", "account_id", "chatgpt_user_id", "plan_type"} {
			Expect(c[k]).To(And(BeAssignableToTypeOf(""), Not(BeEmpty())), "%s", k)
		}
		Expect(c["chatgpt_account_is_fedramp"]).To(BeAssignableToTypeOf(true))
		if e, ok := c["email"]; ok && e != nil {
			Expect(e).To(BeAssignableToTypeOf(""))
		}
	})
	Requirement("CDX-AGENT-007", needs(ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		Expect(a.KeyErr).NotTo(HaveOccurred())
	})
	Requirement("CDX-AGENT-008", needs(ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		kid, _ := a.Header["kid"].(string)
		Expect(fetchJWKS(ctx, "/agent-identities/jwks")).To(HaveKey(kid))
	})
	Requirement("CDX-AGENT-009", needs(ai), func(ctx SpecContext) {
		registerTask(ctx, agentIdentity(ctx))
	})
	Requirement("CDX-AGENT-010", needs(ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		ex := client().RegisterTask(ctx, a, wire.Timestamp(target.IssuerNow(ctx)), otherKey())
		expectRefused(ex, "a registration signed with another key")
	})
	Requirement("CDX-AGENT-011", needs(ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		ts := wire.Timestamp(target.IssuerNow(ctx))
		first := client().RegisterTask(ctx, a, ts, nil)
		expectStatus(first, 200, 201)
		firstID, err := wire.TaskIDFor(first, a.Key)
		Expect(err).NotTo(HaveOccurred())
		// codex itself repeats a registration within the same second (its
		// signatures are deterministic), so "the same task again" is fine.
		again := client().RegisterTask(ctx, a, ts, nil)
		Expect(again.Err).NotTo(HaveOccurred())
		if again.Status/100 == 2 {
			id, err := wire.TaskIDFor(again, a.Key)
			Expect(err).NotTo(HaveOccurred())
			Expect(id).To(Equal(firstID), "a replayed registration created a second task")
		} else {
			expectRefused(again, "a replayed registration")
		}
	})
	Requirement("CDX-AGENT-012", needs(ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		expectRefused(client().RegisterTask(ctx, a, wire.Timestamp(target.IssuerNow(ctx).Add(-10*time.Minute)), nil), "a registration 10 minutes old")
		expectRefused(client().RegisterTask(ctx, a, wire.Timestamp(target.IssuerNow(ctx).Add(10*time.Minute)), nil), "a registration 10 minutes ahead")
	})
	Requirement("CDX-AGENT-013", nil, func(ctx SpecContext) {
		ex := client().RegisterTaskRaw(ctx, "agent_unknown_"+wire.NewState()[:10], wire.Timestamp(time.Now()), "c2ln")
		expectRefused(ex, "a registration for an unknown agent")
	})
	Requirement("CDX-AGENT-014", needs(ai, harness.CapKeyRotation), func(ctx SpecContext) {
		needsMinting()
		a := agentIdentity(ctx)
		toks := login(ctx)
		_, err := target.Admin.RotateKeys(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(verifyAgentJWT(ctx, a.Raw)).To(Succeed(), "an identity minted before the rotation no longer verifies")
		set := jwks(ctx)
		_, _, err = wire.VerifyRS256(toks.AccessToken, set)
		Expect(err).NotTo(HaveOccurred(), "an access token issued before the rotation no longer verifies")
		b := agentIdentity(ctx)
		Expect(b.Header["kid"]).NotTo(Equal(a.Header["kid"]), "identities minted after the rotation still use the old key")
		Expect(verifyAgentJWT(ctx, b.Raw)).To(Succeed())
	})
	Requirement("CDX-AGENT-015", needs(ai), func(ctx SpecContext) {
		needsMinting()
		a := agentIdentity(ctx)
		Expect(target.Admin.RevokeAgentIdentity(ctx, a.RuntimeID)).To(Succeed())
		expectRefused(client().RegisterTask(ctx, a, wire.Timestamp(target.IssuerNow(ctx)), nil), "a registration of a revoked identity")
	})
})

// ---- gateway validation

func validate(ctx SpecContext, secret string, body map[string]string) *wire.Exchange {
	return client().Validate(ctx, target.Cfg.ValidateURL, secret, body)
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

func assertionFor(ctx SpecContext) (wire.AgentIdentity, string, string) {
	GinkgoHelper()
	a := agentIdentity(ctx)
	task := registerTask(ctx, a)
	return a, task, wire.Assertion(a.RuntimeID, task, wire.Timestamp(target.IssuerNow(ctx)), a.Key)
}

var _ = Describe("Gateway validation", func() {
	v := harness.CapValidate
	Requirement("CDX-VAL-001", needs(v), func(ctx SpecContext) {
		t := login(ctx)
		body := map[string]string{"scheme": "bearer", "token": t.AccessToken}
		expectInvalid(validate(ctx, "", body), "a request without X-Internal-Secret")
		expectInvalid(validate(ctx, "wrong-secret-wrong-secret", body), "a request with a wrong secret")
		expectInvalid(validate(ctx, target.Cfg.InternalSecret+"x", body), "a request with a secret that is one character longer")
	})
	Requirement("CDX-VAL-002", needs(v), func(ctx SpecContext) {
		t := login(ctx)
		expectValid(validate(ctx, target.Cfg.InternalSecret, map[string]string{"scheme": "bearer", "token": t.AccessToken}), "a live access token")
	})
	Requirement("CDX-VAL-003", needs(v), func(ctx SpecContext) {
		t := login(ctx)
		expectStatus(client().Revoke(ctx, t.RefreshToken, "refresh_token"), 200, 204)
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, map[string]string{"scheme": "bearer", "token": t.AccessToken}), "an access token of a revoked family")
	})
	Requirement("CDX-VAL-004", needs(v), func(ctx SpecContext) {
		t := login(ctx)
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, map[string]string{"scheme": "bearer", "token": t.AccessToken, "account_id": "acct_someone_else"}), "a token checked against another account")
	})
	Requirement("CDX-VAL-005", needs(v, harness.CapAgentIdentity), func(ctx SpecContext) {
		_, _, as := assertionFor(ctx)
		expectValid(validate(ctx, target.Cfg.InternalSecret, map[string]string{"scheme": "agent_assertion", "assertion": as}), "a fresh assertion")
	})
	Requirement("CDX-VAL-006", needs(v, harness.CapAgentIdentity), func(ctx SpecContext) {
		_, _, as := assertionFor(ctx)
		body := map[string]string{"scheme": "agent_assertion", "assertion": as}
		expectValid(validate(ctx, target.Cfg.InternalSecret, body), "the first use of an assertion")
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, body), "a replayed assertion")
	})
	Requirement("CDX-VAL-007", needs(v, harness.CapAgentIdentity), func(ctx SpecContext) {
		a, task, _ := assertionFor(ctx)
		forged := wire.Assertion(a.RuntimeID, task, wire.Timestamp(target.IssuerNow(ctx)), otherKey())
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, map[string]string{"scheme": "agent_assertion", "assertion": forged}), "an assertion signed with another key")
	})
	Requirement("CDX-VAL-008", needs(v, harness.CapAgentIdentity), func(ctx SpecContext) {
		a, task, _ := assertionFor(ctx)
		stale := wire.Assertion(a.RuntimeID, task, wire.Timestamp(target.IssuerNow(ctx).Add(-6*time.Minute)), a.Key)
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, map[string]string{"scheme": "agent_assertion", "assertion": stale}), "an assertion 6 minutes old")
	})
	Requirement("CDX-VAL-009", needs(v, harness.CapAgentIdentity), func(ctx SpecContext) {
		a, _, _ := assertionFor(ctx)
		_, otherTask, _ := assertionFor(ctx)
		as := wire.Assertion(a.RuntimeID, otherTask, wire.Timestamp(target.IssuerNow(ctx)), a.Key)
		expectInvalid(validate(ctx, target.Cfg.InternalSecret, map[string]string{"scheme": "agent_assertion", "assertion": as}), "an assertion for another agent's task")
	})
	Requirement("CDX-VAL-010", needs(v), func(ctx SpecContext) {
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
		t := login(ctx)
		_, err := target.Admin.RotateKeys(ctx)
		Expect(err).NotTo(HaveOccurred())
		expectValid(validate(ctx, target.Cfg.InternalSecret, map[string]string{"scheme": "bearer", "token": t.AccessToken}), "a token issued before the rotation")
	})
})
