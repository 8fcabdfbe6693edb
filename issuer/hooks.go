package issuer

import "github.com/codexauth/codexauth/issuer/faults"

// hooks are the few protocol checks a logic fault of the catalogue
// (issuer/faults) switches off: each is named after the check it skips, and
// answers false unless its fault is on. Every other fault sits behind a seam
// outside the handlers: the token signer (fault_tokens.go), per-route
// rewriting (fault_routes.go, fault_rewrites.go) and the store
// (fault_store.go).
type hooks struct{ faults *faults.Set }

// hookFaults are the faults that work through a hook.
var hookFaults = []string{faults.PKCEUnchecked, faults.RedirectUnchecked, faults.TaskSignatureUnchecked,
	faults.AssertionTaskUnchecked, faults.AssertionStaleAccepted, faults.ClientUnregisteredAccepted}

// skipPKCEVerification skips the code_verifier check of the code exchange
// (RFC 7636 §4.6): pkce-unchecked.
func (h hooks) skipPKCEVerification() bool { return h.faults.Has(faults.PKCEUnchecked) }

// skipRedirectURIMatch accepts any redirect_uri at authorize and at the
// exchange (RFC 6749 §3.1.2.3, §4.1.3): redirect-unchecked.
func (h hooks) skipRedirectURIMatch() bool { return h.faults.Has(faults.RedirectUnchecked) }

// skipTaskSignature skips the Ed25519 proof of a task registration
// (contract §8.2): task-signature-unchecked.
func (h hooks) skipTaskSignature() bool { return h.faults.Has(faults.TaskSignatureUnchecked) }

// skipAssertionTaskOwner skips checking that an AgentAssertion's task
// belongs to its agent: assertion-task-unchecked.
func (h hooks) skipAssertionTaskOwner() bool { return h.faults.Has(faults.AssertionTaskUnchecked) }

// skipAssertionAge skips the skew window of an AgentAssertion's timestamp:
// assertion-stale-accepted.
func (h hooks) skipAssertionAge() bool { return h.faults.Has(faults.AssertionStaleAccepted) }

// skipClientRegistration takes any client_id for a registered one
// (RFC 6749 §4.1.2.1): client-unregistered-accepted.
func (h hooks) skipClientRegistration() bool { return h.faults.Has(faults.ClientUnregisteredAccepted) }
