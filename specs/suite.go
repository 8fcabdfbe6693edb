// Package specs is the conformance suite: Ginkgo specs that replay what
// codex 0.169.0 does against a target issuer. Every spec checks exactly one
// requirement of registry.Requirements and is labelled with its id, profile
// and level. The specs live in non-test files so that `codexauth conform`
// embeds them; `go test ./specs` runs the same specs for developers.
package specs

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
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
		for _, c := range needs {
			if why := target.Missing(c); why != "" {
				Skip(NotRunPrefix + string(c) + ": " + why)
			}
		}
		body(ctx)
	}, NodeTimeout(2*time.Minute))
}

// NotRunPrefix starts the skip message of a spec whose capability is missing.
const NotRunPrefix = "not run: needs "

// needs is shorthand for a capability list.
func needs(c ...harness.Capability) []harness.Capability { return c }

// ---- helpers shared by the flows

func client() *wire.Client { return target.Client }

// login gets fresh tokens through the device flow or fails the spec with
// the reason.
func login(ctx context.Context) wire.Tokens {
	GinkgoHelper()
	t, err := target.Login(ctx)
	Expect(err).NotTo(HaveOccurred(), "could not obtain tokens through the device flow (the device specs say why)")
	return t
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
