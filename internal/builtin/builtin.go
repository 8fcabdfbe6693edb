// Package builtin wires the reference issuer in as the conformance harness's
// built-in target. It is the one place where the two halves meet: the
// harness defines the interface (harness.StartBuiltin) and never imports the
// issuer; the issuer's public test helper (issuer/issuertest) implements it.
// cmd/codexauth and the tests that need a built-in target import this.
package builtin

import (
	"context"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/issuer/issuertest"
)

// Name is how reports name the built-in target.
const Name = "codexauth built-in reference issuer"

// Start starts the reference issuer in-process on loopback with its admin
// API on.
func Start(ctx context.Context, o harness.BuiltinOptions) (harness.BuiltinIssuer, error) {
	iss, err := issuertest.Start(ctx, issuertest.WithFaults(o.Faults...), issuertest.WithReuseGrace(o.ReuseGrace),
		issuertest.WithVersion("builtin"))
	if err != nil {
		return harness.BuiltinIssuer{}, err
	}
	return harness.BuiltinIssuer{URL: iss.URL, Name: Name, Version: "builtin", AdminToken: iss.AdminToken,
		ValidateURL: iss.ValidateURL, InternalSecret: iss.InternalSecret, Close: iss.Close}, nil
}
