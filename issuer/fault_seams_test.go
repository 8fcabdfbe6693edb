package issuer

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/store/memory"
)

// Every fault of the catalogue works through a seam (token signer, route
// rewriting, store wrapper) or a named hook, and every seam entry names a
// fault of the catalogue: a new fault cannot be catalogued and forgotten.
func TestEveryFaultHasASeam(t *testing.T) {
	seamed := map[string][]string{}
	for name := range tokenFaults {
		seamed[name] = append(seamed[name], "token")
	}
	for name := range routeFaults {
		seamed[name] = append(seamed[name], "route")
	}
	for _, name := range storeFaults {
		seamed[name] = append(seamed[name], "store")
	}
	for _, name := range hookFaults {
		seamed[name] = append(seamed[name], "hook")
	}
	for _, name := range faults.Names() {
		if len(seamed[name]) == 0 {
			t.Errorf("fault %s is in the catalogue but no seam implements it", name)
		}
		if slices.Contains(seamed[name], "hook") && len(seamed[name]) > 1 {
			t.Errorf("fault %s is a hook and also in %v: pick one", name, seamed[name])
		}
		delete(seamed, name)
	}
	for name, where := range seamed {
		t.Errorf("%v seam implements %q, which the catalogue does not know", where, name)
	}
}

// Every route a route fault names is mounted, so a renamed path cannot
// silently disarm its faults.
func TestRouteFaultsNameMountedRoutes(t *testing.T) {
	srv, err := New(context.Background(), Config{PublicURL: "http://issuer.test", Store: memory.New(),
		AdminToken: "admin-token-0123456789", InternalSecret: "internal-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	mounted := map[string]bool{}
	if err := chi.Walk(srv.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		mounted[method+" "+route] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for name, rf := range routeFaults {
		if len(rf.routes) == 0 || rf.before == nil && rf.after == nil {
			t.Errorf("route fault %s names no route or does nothing", name)
		}
		for _, rt := range rf.routes {
			if !mounted[rt] {
				t.Errorf("route fault %s names %q, which is not mounted", name, rt)
			}
		}
	}
}
