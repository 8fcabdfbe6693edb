package specs

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/wire"
)

// agentIdentities returns n identities of different agents: minted
// through the admin API, or the ones the deployment supplied
// (--agent-identity, repeatable). With fewer, the spec is not run.
func agentIdentities(ctx SpecContext, n int) []wire.AgentIdentity {
	GinkgoHelper()
	raws := target.Cfg.AgentIdentities
	if target.Admin != nil && target.Caps(harness.CapAgentIdentity) && len(raws) == 0 {
		raws = nil
		for i := 0; i < n; i++ {
			raw, err := target.Admin.MintAgentIdentity(ctx, target.Cfg.User, "")
			Expect(err).NotTo(HaveOccurred())
			raws = append(raws, raw)
		}
	}
	if len(raws) < n {
		notRun("needs %d agent identities of different agents, and %d was given (repeat --agent-identity)", n, len(raws))
	}
	var out []wire.AgentIdentity
	for _, raw := range raws[:n] {
		a, err := wire.ParseAgentIdentity(raw)
		if err != nil || a.KeyErr != nil {
			blockedBy("CDX-AGENT-007", "codex cannot decode the agent identity JWT: %v %v", err, a.KeyErr)
		}
		for _, prev := range out {
			if a.RuntimeID != "" && prev.RuntimeID == a.RuntimeID {
				// Two identities of one agent would make "another agent's
				// task" specs fail a correct issuer.
				notRun("needs %d agent identities of different agents, and two of those given belong to one agent (%s): repeat --agent-identity with another agent's", n, a.RuntimeID)
			}
		}
		out = append(out, a)
	}
	return out
}

// agentIdentity is one agent identity (see agentIdentities).
func agentIdentity(ctx SpecContext) wire.AgentIdentity {
	GinkgoHelper()
	raws := target.Cfg.AgentIdentities
	if len(raws) == 0 && target.Admin != nil {
		return agentIdentities(ctx, 1)[0]
	}
	Expect(raws).NotTo(BeEmpty())
	a, err := wire.ParseAgentIdentity(raws[0])
	Expect(err).NotTo(HaveOccurred(), "codex cannot decode the agent identity JWT")
	return a
}

func needsMinting() {
	if target.Admin == nil {
		Skip(NotRunPrefix + "minting identities through the admin API (--admin-token)")
	}
}

// agentJWKSURL is where codex fetches the agent-identity keys (§8.1).
func agentJWKSURL() string { return client().Endpoints.AgentJWKSURL() }

// verifyAgentJWT reproduces codex's verification (§8.1): RS256 only, the
// kid looked up in the agent JWKS, literal iss and aud, exp enforced.
func verifyAgentJWT(ctx SpecContext, raw string) error {
	return wire.VerifyAgentIdentity(raw, fetchJWKS(ctx, agentJWKSURL()), target.IssuerNow(ctx))
}

// lastRegistration is the last timestamp each agent registered with: codex
// signs "<rid>:<timestamp>" with a deterministic Ed25519 key, so two
// registrations in one second are byte-identical — a replay an issuer may
// refuse (CDX-AGENT-011 allows it). Specs that need new tasks use a fresh
// second each time.
var lastRegistration = map[string]time.Time{}

// freshTimestamp is the issuer's now, or one second past the agent's last
// registration when that is not earlier (well inside the ±5 min window).
func freshTimestamp(ctx SpecContext, rid string) string {
	ts := target.IssuerNow(ctx).UTC().Truncate(time.Second)
	if last, ok := lastRegistration[rid]; ok && !ts.After(last) {
		ts = last.Add(time.Second)
	}
	lastRegistration[rid] = ts
	return wire.Timestamp(ts)
}

// registerTask registers a new task as a step (blocked by CDX-AGENT-009).
func registerTask(ctx SpecContext, a wire.AgentIdentity) string {
	GinkgoHelper()
	ex := client().RegisterTask(ctx, a, freshTimestamp(ctx, a.RuntimeID), nil)
	if ex.Err != nil || ex.Status/100 != 2 {
		blockedBy("CDX-AGENT-009", "a correctly signed task registration failed: %s", ex)
	}
	id, err := wire.TaskIDFor(ex, a.Key)
	if err != nil {
		blockedBy("CDX-AGENT-009", "the registration answered no task id codex can read: %v", err)
	}
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
		Expect(fetchJWKS(ctx, agentJWKSURL())).To(HaveKey(kid), "codex: \"agent identity JWT kid %s is not trusted\"", kid)
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
		base := client().Endpoints.ChatGPTBase
		if !strings.Contains(base, "/backend-api") {
			notRun("the deployment's ChatGPT base %s has no /backend-api, so codex already fetches <base>/agent-identities/jwks (CDX-AGENT-002 checks it)", base)
		}
		a := agentIdentity(ctx)
		kid, _ := a.Header["kid"].(string)
		Expect(fetchJWKS(ctx, strings.Replace(base, "/backend-api", "", 1)+"/agent-identities/jwks")).To(HaveKey(kid))
	})
	Requirement("CDX-AGENT-009", needs(ai), func(ctx SpecContext) {
		registerTask(ctx, agentIdentity(ctx))
	})
	Requirement("CDX-AGENT-010", needs(ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		registerTask(ctx, a) // a correct signature is accepted
		ex := client().RegisterTask(ctx, a, freshTimestamp(ctx, a.RuntimeID), otherKey())
		expectRefused(ex, "a registration signed with another key")
	})
	Requirement("CDX-AGENT-011", needs(ai), func(ctx SpecContext) {
		a := agentIdentity(ctx)
		ts := freshTimestamp(ctx, a.RuntimeID)
		first := client().RegisterTask(ctx, a, ts, nil)
		if first.Err != nil || first.Status/100 != 2 {
			blockedBy("CDX-AGENT-009", "a correctly signed task registration failed: %s", first)
		}
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
		registerTask(ctx, a) // a current timestamp is accepted
		expectRefused(client().RegisterTask(ctx, a, wire.Timestamp(target.IssuerNow(ctx).Add(-10*time.Minute)), nil), "a registration 10 minutes old")
		expectRefused(client().RegisterTask(ctx, a, wire.Timestamp(target.IssuerNow(ctx).Add(10*time.Minute)), nil), "a registration 10 minutes ahead")
	})
	Requirement("CDX-AGENT-013", needs(ai), func(ctx SpecContext) {
		registerTask(ctx, agentIdentity(ctx)) // a known agent's registration is accepted
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
		registerTask(ctx, a) // accepted before the revocation
		Expect(target.Admin.RevokeAgentIdentity(ctx, a.RuntimeID)).To(Succeed())
		expectRefused(client().RegisterTask(ctx, a, freshTimestamp(ctx, a.RuntimeID), nil), "a registration of a revoked identity")
	})
})
