package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness/wire"
)

// Content codings differ between codex releases (contract §12.1): the
// client speaks as the codex the run speaks for (conform --codex-version,
// or the binary's own version), so the expectation is that release's.
var _ = Describe("Content coding", func() {
	Requirement("CDX-ENC-001", needs(), func(ctx SpecContext) {
		c := client()
		_, usercode := c.RequestDeviceCode(ctx)
		for _, ex := range []*wire.Exchange{usercode,
			c.Refresh(ctx, "rt_codexauth_unknown_"+wire.NewState()[:16], "proactive_expiry"),
			c.Revoke(ctx, "rt_codexauth_unknown_"+wire.NewState()[:16], "refresh_token")} {
			Expect(ex.Err).NotTo(HaveOccurred(), "%s", ex)
			Expect(ex.Unreadable).To(BeEmpty(), "codex %s (Accept-Encoding %q) cannot read this answer: %s",
				c.Dialect.Version, c.Dialect.AcceptEncoding, ex)
		}
	})
})
