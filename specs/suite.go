// Package specs is the conformance suite: Ginkgo specs that replay what
// codex 0.169.0 does against a target issuer. Every spec checks exactly one
// requirement of registry.Requirements and is labelled with its id, profile
// and level. The specs live in non-test files so that `codexauth conform`
// embeds them; `go test ./specs` runs the same specs for developers.
package specs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/evidence"
	"github.com/codexauth/codexauth/harness/registry"
	"github.com/codexauth/codexauth/harness/wire"
)

var (
	cfgMu     sync.Mutex
	cfg       harness.Config
	preopened *harness.Target
	target    *harness.Target
	openErr   error
	// specsSeen records the requirement ids that have a spec: a second
	// spec for one id is a programming error.
	specsSeen = map[string]string{}
)

// Configure sets the target for the next run. Call it before RunSpecs.
func Configure(c harness.Config) {
	cfgMu.Lock()
	defer cfgMu.Unlock()
	cfg = c
}

// UseTarget hands the suite an already opened target (conform opens it up
// front to report configuration errors); the suite closes it at the end.
func UseTarget(t *harness.Target) {
	cfgMu.Lock()
	defer cfgMu.Unlock()
	preopened = t
	cfg = t.Cfg
}

// Target returns the opened target (nil before the suite starts).
func Target() *harness.Target { return target }

var _ = BeforeSuite(func(ctx SpecContext) {
	cfgMu.Lock()
	c, pre := cfg, preopened
	cfgMu.Unlock()
	if pre != nil {
		target = pre
	} else {
		target, openErr = harness.Open(ctx, c)
	}
	Expect(openErr).NotTo(HaveOccurred(), "opening the target")
	if target.Admin != nil && target.Caps(harness.CapFaults) {
		// A previous run's faults must not leak into this one, except the
		// self-test's, which are the point.
		if len(c.BuiltinFaults) == 0 && c.Issuer == "" {
			Expect(target.Admin.SetFaults(ctx, nil)).To(Succeed())
		}
	}
}, NodeTimeout(time.Minute))

var _ = AfterSuite(func() {
	closeGuard()
	if target != nil {
		target.Close()
	}
})

// Requirement declares the spec for requirement id. needs are capabilities
// without which the spec is reported "not run" with the reason.
func Requirement(id string, needs []harness.Capability, body func(ctx SpecContext)) bool {
	r := registry.MustLookup(id)
	text := id + " " + r.Title
	if prev, dup := specsSeen[id]; dup {
		panic(fmt.Sprintf("requirement %s has two specs (%q)", id, prev))
	}
	specsSeen[id] = text
	return It(text, Offset(1), Label("req:"+id, "profile:"+string(r.Profile), "level:"+string(r.Level)), func(ctx SpecContext) {
		current = id
		target.TakeWaited()
		target.Evidence.Begin()
		DeferCleanup(func() {
			if w := target.TakeWaited(); w > 0 {
				AddReportEntry(WaitedEntry, w.Round(time.Millisecond).String())
			}
			rec := target.Evidence.End()
			evidenceMu.Lock()
			evidenceByID[id] = rec
			evidenceMu.Unlock()
		})
		for _, c := range needs {
			why := target.Missing(c)
			if why == harness.LifetimeUnknown {
				if err := target.ObserveAccessTTL(ctx); errors.Is(err, harness.ErrNoAccessExp) {
					blockedBy("CDX-CLAIMS-010", "%v", err)
				} else if err != nil {
					blockedByStep(err, "reading the access-token lifetime off a fresh sign-in")
				}
				why = target.Missing(c)
			}
			if why != "" {
				Skip(NotRunPrefix + string(c) + ": " + why)
			}
		}
		body(ctx)
	}, NodeTimeout(2*time.Minute))
}

// Prefixes of the skip messages the report tells apart.
const (
	// NotRunPrefix starts the message of a spec whose capability is missing.
	NotRunPrefix = "not run: needs "
	// notRunGeneric starts the message of a spec that could not run for
	// another reason (said after it).
	notRunGeneric = "not run: "
	// BlockedPrefix starts the message of a spec blocked by a failed step
	// that another requirement covers: "blocked by CDX-…: reason".
	BlockedPrefix = "blocked by "
)

var (
	evidenceMu   sync.Mutex
	evidenceByID = map[string]*evidence.Record{}
)

// Evidence returns what each requirement's spec did (masked), by id, for
// the last run.
func Evidence() map[string]*evidence.Record {
	evidenceMu.Lock()
	defer evidenceMu.Unlock()
	out := make(map[string]*evidence.Record, len(evidenceByID))
	for k, v := range evidenceByID {
		out[k] = v
	}
	return out
}

// Secrets lists every raw secret the run met (for tests that scan the
// reports for leaks); nil before a run.
func Secrets() []string {
	if target == nil || target.Evidence == nil {
		return nil
	}
	return target.Evidence.Masker.Secrets()
}

// WaitedEntry names the report entry that says how long a spec really
// waited for expiry (on targets without clock control).
const WaitedEntry = "waited for real expiry"

// current is the requirement whose spec is running (specs run one at a
// time).
var current string

// blockedBy ends the running spec as blocked: a step it builds on failed,
// and requirement id covers that step. It is neither passed nor failed; the
// report lists it under its root cause. A spec is never blocked by its own
// requirement: then the step failing is the failure.
func blockedBy(id, format string, args ...any) {
	GinkgoHelper()
	msg := fmt.Sprintf(format, args...)
	if id == current {
		Fail(msg)
	}
	Skip(BlockedPrefix + id + ": " + msg)
}

// notRun ends the running spec as not run, with the reason.
func notRun(format string, args ...any) {
	GinkgoHelper()
	Skip(notRunGeneric + fmt.Sprintf(format, args...))
}

// needs is shorthand for a capability list.
func needs(c ...harness.Capability) []harness.Capability { return c }

// ---- helpers shared by the flows

func client() *wire.Client { return target.Client }

// loginStep maps a failed sign-in step to the requirement that covers it.
var loginStep = map[string]string{
	harness.StepUsercode: "CDX-DEVICE-001",
	harness.StepPoll:     "CDX-DEVICE-005",
	harness.StepExchange: "CDX-DEVICE-007",
	harness.StepTokens:   "CDX-DEVICE-008",
}

// login gets fresh tokens through the device flow. When that fails, the
// spec is blocked by the requirement covering the failed step; when the
// approver fails, it is not run (the approver is the harness's, not the
// issuer's).
func login(ctx context.Context) wire.Tokens {
	GinkgoHelper()
	t, err := target.Login(ctx)
	if err != nil {
		blockedByStep(err, "signing in")
	}
	return t
}

// blockedByStep blocks the running spec on a sign-in error.
func blockedByStep(err error, doing string) {
	GinkgoHelper()
	var se *harness.StepError
	if errors.As(err, &se) {
		if id, ok := loginStep[se.Step]; ok {
			blockedBy(id, "%s failed at the %s: %v", doing, se.Step, se.Err)
		}
		notRun("%s failed at the %s (the %s approver could not approve): %v", doing, se.Step, target.Approver.Name(), se.Err)
	}
	Fail(fmt.Sprintf("%s failed: %v", doing, err))
}

// refreshEncoding is the encoding the target's refresh accepts; blocked by
// CDX-REFRESH-001 when there is none.
func refreshEncoding(ctx context.Context) wire.Encoding {
	GinkgoHelper()
	enc, err := target.RefreshEncoding(ctx)
	if err != nil {
		if errors.Is(err, harness.ErrNoRefreshEncoding) {
			blockedBy("CDX-REFRESH-001", "%v", err)
		}
		blockedByStep(err, "signing in to find the refresh encoding")
	}
	return enc
}

// refreshAny refreshes in the encoding the target accepts (JSON if it
// does): for specs about what a refresh answers, not about how it is sent.
func refreshAny(ctx context.Context, rt, reason string) *wire.Exchange {
	GinkgoHelper()
	return client().RefreshEncoded(ctx, refreshEncoding(ctx), rt, reason)
}

// givenRefresh is a refresh as a step of a spec (not its subject): in the
// encoding the target accepts; when it fails the spec is blocked by
// CDX-REFRESH-001 (or CDX-REFRESH-003 for an unusable answer).
func givenRefresh(ctx context.Context, rt, reason string) wire.RefreshResult {
	GinkgoHelper()
	ex := refreshAny(ctx, rt, reason)
	if ex.Err != nil || ex.Status != 200 {
		blockedBy("CDX-REFRESH-001", "a refresh with a valid token failed: %s", ex)
	}
	r, err := wire.ParseRefresh(ex)
	if err != nil {
		blockedBy("CDX-REFRESH-003", "%v: %s", err, ex)
	}
	return r
}

// expectStatus fails with the whole exchange when the status is not one of want.
func expectStatus(ex *wire.Exchange, want ...int) {
	GinkgoHelper()
	Expect(ex.Err).NotTo(HaveOccurred(), "request failed: %s", ex)
	Expect(want).To(ContainElement(ex.Status), "unexpected status: %s", ex)
}

// expectNotPending asserts codex would stop polling on this answer.
func expectNotPending(ex *wire.Exchange, what string) {
	GinkgoHelper()
	Expect(ex.Err).NotTo(HaveOccurred(), "request failed: %s", ex)
	Expect(ex.Status/100).NotTo(Equal(2), "%s got a grant: %s", what, ex)
	Expect(wire.IsPending(ex.Status)).To(BeFalse(),
		"%s was answered %d, which codex treats as 'pending' and keeps polling for 15 minutes: %s", what, ex.Status, ex)
}
