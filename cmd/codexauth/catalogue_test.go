package main

import (
	"testing"

	"github.com/codexauth/codexauth/harness/registry"
	"github.com/codexauth/codexauth/issuer/faults"
)

// TestFaultCatalogueNamesRealRequirementsAndProfiles: the issuer's fault
// catalogue and the harness's registry are separate on purpose (neither
// imports the other); this test, where both meet, keeps them consistent.
func TestFaultCatalogueNamesRealRequirementsAndProfiles(t *testing.T) {
	for _, f := range faults.All() {
		if len(f.Profiles) == 0 || len(f.Catches) == 0 {
			t.Errorf("fault %s: needs the profiles to run and the requirement ids it must fail", f.Name)
		}
		for _, p := range f.Profiles {
			if _, ok := registry.ParseProfile(p); !ok {
				t.Errorf("fault %s: unknown profile %q", f.Name, p)
			}
		}
		for _, id := range f.Catches {
			r, ok := registry.Lookup(id)
			if !ok {
				t.Errorf("fault %s: catches %s, which is not a requirement", f.Name, id)
				continue
			}
			found := false
			for _, p := range f.Profiles {
				found = found || p == string(r.Profile)
			}
			if !found {
				t.Errorf("fault %s: catches %s of profile %s, which it does not run (%v)", f.Name, id, r.Profile, f.Profiles)
			}
		}
	}
}
