// Package issuer is the codexauth reference issuer: every endpoint the
// OpenAI Codex CLI 0.169.0 talks to (docs/codex-issuer-contract.md), plus a
// login page, an admin API for use as a controllable mock, and health
// endpoints. It is a library: New builds a Server, Handler serves it.
package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/keys"
	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Server is a running issuer.
type Server struct {
	cfg     Config
	base    *url.URL
	store   store.Store // the configured store behind the outage switch and the fault seam
	outage  *outageStore
	keys    *keys.Manager
	signer  tokenSigner
	clock   clock.Clock
	faults  *faults.Set
	hooks   hooks
	log     *slog.Logger
	derive  []byte // HMAC key deriving refresh-token successors
	metrics *metrics
	handler http.Handler
	ready   atomic.Bool
	// Runtime overrides set through the admin API (0: use the config).
	accessTTLOverride  atomic.Int64
	reuseGraceOverride atomic.Int64
	autoApproveOff     atomic.Bool
	firstPolls         firstPolls
	guesses            guessLimiter
	console            *console // nil when the console does not exist (console.go)
}

// New validates cfg, prepares keys and secrets in the store, and builds the
// HTTP handler.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := url.Parse(cfg.PublicURL)
	s := &Server{cfg: cfg, base: base, outage: newOutageStore(cfg.Store), clock: cfg.Clock,
		faults: cfg.Faults, hooks: hooks{cfg.Faults}, log: cfg.Logger}
	s.metrics = newMetrics(s.clockOffset, func() int { return len(s.faults.Enabled()) })
	// The fault seams (fault_*.go) wrap the store and the signer; with no
	// fault on they pass every call through.
	s.store = &faultStore{Store: s.outage, faults: cfg.Faults,
		deviceCallback: cfg.PublicURL + deviceCallbackPath, wrongCallback: cfg.PublicURL + deviceVerificationPath}
	s.store = s.setupConsole(s.store)
	s.keys = keys.NewManager(s.store, s.clock, cfg.KeyPassphrase)
	s.signer = faultSigner{next: keySigner{keys: s.keys}, faults: cfg.Faults, env: tokenFaultEnv{publicURL: cfg.PublicURL, keys: s.keys}}
	if err := s.keys.Init(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	candidate := make([]byte, 32)
	if _, err := rand.Read(candidate); err != nil {
		return nil, err
	}
	derive, err := s.store.GetOrCreateSecret(ctx, "refresh-derivation-v1", candidate)
	if err != nil {
		return nil, fmt.Errorf("refresh derivation secret: %w", err)
	}
	s.derive = derive
	if cfg.WorkspaceOrigin == "" {
		s.cfg.WorkspaceOrigin = "https://" + base.Host
	}
	s.handler = s.routes()
	s.ready.Store(true)
	return s, nil
}

// Config returns the effective configuration.
func (s *Server) Config() Config { return s.cfg }

// Faults is the live fault set.
func (s *Server) Faults() *faults.Set { return s.faults }

// Clock is the issuer's clock.
func (s *Server) Clock() clock.Clock { return s.clock }

// Keys is the signing-key manager.
func (s *Server) Keys() *keys.Manager { return s.keys }

// Handler serves the issuer at its public URL's path prefix.
func (s *Server) Handler() http.Handler { return s.handler }

// URL returns the absolute URL of path under the issuer base.
func (s *Server) URL(path string) string { return s.cfg.PublicURL + path }

// SetOutage makes every store call fail (admin API and tests): the issuer
// must then answer 503 temporarily_unavailable, never a token error.
func (s *Server) SetOutage(on bool) { s.outage.down.Store(on) }

// RunGC collects expired rows every GCInterval until ctx ends.
func (s *Server) RunGC(ctx context.Context) {
	if s.cfg.GCInterval < 0 {
		return
	}
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.store.DeleteExpired(ctx, s.clock.Now())
			if err != nil {
				s.log.Warn("garbage collection failed", "err", err)
			} else if n > 0 {
				s.log.Info("garbage collected expired rows", "rows", n)
			}
		}
	}
}

// Mount registers the issuer's routes on r (without the path prefix). Each
// goes through the per-route fault seam (fault_routes.go), which passes
// requests straight to the handler unless a fault rewrites that route.
func (s *Server) Mount(r chi.Router) {
	route := s.router(r, "")
	get := func(path string, h http.HandlerFunc) { route(http.MethodGet, path, h) }
	post := func(path string, h http.HandlerFunc) { route(http.MethodPost, path, h) }
	get("/.well-known/openid-configuration", s.handleDiscovery)
	get("/.well-known/jwks.json", s.handleJWKS)
	get(asMetadataPath, s.handleDiscovery)
	get("/oauth/authorize", s.handleAuthorize)
	// The token endpoint admits requests in arrival order, about one per
	// processor: signing is CPU-bound, and a fair queue keeps the tail short.
	post("/oauth/token", newCPUQueue(s.cfg.TokenConcurrency).admit(http.HandlerFunc(s.handleToken)).ServeHTTP)
	post("/oauth/revoke", s.handleRevoke)
	get(userinfoPath, s.handleUserinfo)
	post(userinfoPath, s.handleUserinfo)
	post("/api/accounts/deviceauth/usercode", s.handleDeviceUserCode)
	post("/api/accounts/deviceauth/token", s.handleDeviceToken)
	get(deviceVerificationPath, s.handleDevicePage)
	post(deviceVerificationPath, s.handleDevicePage)
	get(deviceCallbackPath, s.handleDeviceCallback)
	get("/login", s.handleLoginPage)
	post("/login", s.handleLoginSubmit)
	get("/logout", s.handleLogoutPage)
	post("/logout", s.handleLogoutSubmit)
	get("/backend-api/wham/accounts/check", s.handleAccountsCheck)
	get("/api/accounts/v1/user-auth-credential/whoami", s.handleWhoami)
	get("/healthz", s.handleHealthz)
	get("/readyz", s.handleReadyz)
	get("/metrics", s.handleMetrics)
	// codex fetches <jwks-base>/wham/agent-identities/jwks, or
	// <jwks-base>/agent-identities/jwks when the base has no /backend-api.
	get("/backend-api/wham/agent-identities/jwks", s.handleJWKS)
	get("/agent-identities/jwks", s.handleJWKS)
	post("/api/accounts/v1/agent/{rid}/task/register", s.handleTaskRegister)
	if s.cfg.InternalSecret != "" {
		post("/internal/codex-auth/validate", s.handleValidate)
	}
	if s.cfg.AdminToken != "" {
		r.Route("/__admin", s.mountAdmin)
	}
	s.mountConsole(r)
}

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(limitBodies) // first: bounded bodies, and a 413 the client can read (bodylimit.go)
	r.Use(s.recordRequests, s.recoverer, s.instrument, securityHeaders)
	notFound := func(w http.ResponseWriter, r *http.Request) {
		oauth.Write(w, oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no endpoint at %s", r.URL.Path))
	}
	notAllowed := func(w http.ResponseWriter, r *http.Request) {
		oauth.Write(w, oauth.New(http.StatusMethodNotAllowed, oauth.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
	}
	r.NotFound(notFound)
	r.MethodNotAllowed(notAllowed)
	prefix := strings.TrimRight(s.base.Path, "/")
	if prefix == "" {
		s.Mount(r)
		return r
	}
	// RFC 8414 §3.1 inserts the well-known segment before the issuer's
	// path: /.well-known/oauth-authorization-server/<prefix>.
	r.Method(http.MethodGet, asMetadataPath+prefix, s.faultable(http.MethodGet+" "+asMetadataPath, s.handleDiscovery))
	r.Route(prefix, func(sub chi.Router) {
		sub.NotFound(notFound)
		sub.MethodNotAllowed(notAllowed)
		s.Mount(sub)
	})
	return r
}

// recoverer turns a panic into a logged 500. It is the last line of defence:
// the table tests assert no input ever reaches it.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.metrics.panics.Inc()
				oauth.Write(w, oauth.New(http.StatusInternalServerError, oauth.CodeServerError, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// random returns n random bytes, unpadded base64url.
func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS RNG failing is unrecoverable
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// storeErr maps a store error that is not a documented sentinel to the
// transient 503 (contract §6.5: an outage must never read as a token error).
func (s *Server) storeErr(r *http.Request, what string, err error) *oauth.Error {
	s.log.Error("store failure", "op", what, "path", r.URL.Path, "err", err)
	s.metrics.storeErrors.WithLabelValues(what).Inc()
	return oauth.Unavailable(fmt.Errorf("%s: %w", what, err))
}

// storeFailed answers a failed store call: notFound when the store has no
// such record, the store failure (storeErr: 503 temporarily_unavailable)
// otherwise. It reports whether err was a failure; for nil it writes nothing.
func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, err error, what string, notFound *oauth.Error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrNotFound):
		oauth.Write(w, notFound)
	default:
		oauth.Write(w, s.storeErr(r, what, err))
	}
	return true
}

// outageStore lets the admin API simulate a store outage.
type outageStore struct {
	store.Failing
	down atomic.Bool
}

var errOutage = errors.New("simulated store outage")

func newOutageStore(st store.Store) *outageStore {
	o := &outageStore{}
	o.Failing = store.Failing{Store: st, Fail: func() error {
		if o.down.Load() {
			return errOutage
		}
		return nil
	}}
	return o
}

func jsonEncode(w http.ResponseWriter, v any) error { return json.NewEncoder(w).Encode(v) }
