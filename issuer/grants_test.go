package issuer_test

import (
	"net/url"
	"strings"
	"testing"
)

// The unsupported_grant_type answer names every grant discovery advertises
// (RFC 8414 §2 grant_types_supported; RFC 6749 §5.2), so a client told "no"
// learns what would work.
func TestUnsupportedGrantListsAdvertisedGrants(t *testing.T) {
	e := start(t, nil)
	disc := e.do("GET", "/.well-known/openid-configuration", "", "").json()
	advertised, _ := disc["grant_types_supported"].([]any)
	if len(advertised) < 4 {
		t.Fatalf("discovery advertises %v, want the four grants", disc["grant_types_supported"])
	}
	r := e.postForm("/oauth/token", url.Values{"grant_type": {"password"}})
	if r.status != 400 || r.str("error") != "unsupported_grant_type" {
		t.Fatalf("grant_type=password answered %d %s", r.status, r.body)
	}
	for _, g := range advertised {
		if !strings.Contains(r.str("error_description"), g.(string)) {
			t.Errorf("unsupported_grant_type description %q does not name the advertised grant %s", r.str("error_description"), g)
		}
	}
}
