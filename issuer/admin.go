package issuer

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/codexauth/codexauth/adminapi"
	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/oauth"
)

// The admin API turns the reference issuer into a controllable mock:
// users and claims, clock, faults, headless approvals, key rotation and
// state inspection. It exists only when an admin token is configured, and
// every call needs it as a bearer token (compared in constant time).
func (s *Server) mountAdmin(r chi.Router) {
	r.Use(s.requireAdmin)
	route := s.router(r, "/__admin")
	get := func(path string, h http.HandlerFunc) { route(http.MethodGet, path, h) }
	post := func(path string, h http.HandlerFunc) { route(http.MethodPost, path, h) }
	put := func(path string, h http.HandlerFunc) { route(http.MethodPut, path, h) }
	get("/state", s.adminState)
	get("/users", s.adminListUsers)
	put("/users/{id}", s.adminPutUser)
	get("/users/{id}", s.adminGetUser)
	route(http.MethodDelete, "/users/{id}", s.adminDeleteUser)
	get("/clock", s.adminClock)
	post("/clock/advance", s.adminClockAdvance)
	post("/clock/reset", s.adminClockReset)
	get("/faults", s.adminFaults)
	put("/faults", s.adminSetFaults)
	post("/device/approve", s.adminDeviceDecide(true))
	post("/device/deny", s.adminDeviceDecide(false))
	post("/authorize", s.adminAuthorize)
	post("/tokens", s.adminMintTokens)
	post("/personal-access-tokens", s.adminMintPAT)
	post("/workload-assertions", s.adminWorkloadAssertion)
	post("/personal-access-tokens/revoke", s.adminRevokePAT)
	post("/keys/rotate", s.adminRotateKeys)
	get("/families", s.adminFamilies)
	post("/families/{id}/revoke", s.adminRevokeFamily)
	post("/outage", s.adminOutage)
	put("/settings", s.adminSettings)
	post("/agent-identities", s.adminMintAgent)
	get("/agent-identities", s.adminListAgents)
	post("/agent-identities/{rid}/revoke", s.adminRevokeAgent)
}

func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="codexauth-admin"`)
			oauth.Write(w, oauth.New(http.StatusUnauthorized, oauth.CodeUnauthorized, "admin API needs Authorization: Bearer <admin token>"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readJSON decodes a strict JSON body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) *oauth.Error {
	body, rerr := readBody(r)
	if rerr != nil {
		return rerr
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return oauth.InvalidRequest("malformed JSON body: %v", err)
	}
	return nil
}

func (s *Server) adminState(w http.ResponseWriter, r *http.Request) {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		oauth.Write(w, s.storeErr(r, "list users", err))
		return
	}
	_, adjustable := s.clock.(*clock.Adjustable)
	caps := []string{adminapi.CapFaults, adminapi.CapAdminApproval, adminapi.CapHeadlessAuthorize, adminapi.CapKeyRotation,
		adminapi.CapAgentMinting, adminapi.CapOutage, adminapi.CapSettings, adminapi.CapPATMinting, adminapi.CapWorkloadMinting}
	if adjustable {
		caps = append(caps, adminapi.CapClock)
	}
	writeJSON(w, http.StatusOK, adminapi.State{Issuer: s.cfg.PublicURL, Version: s.cfg.Version, ClockOffset: s.clockOffset().Seconds(),
		Now: s.clock.Now().UTC(), Faults: s.faults.Enabled(), Users: len(users), AccessTTL: s.accessTTL().Seconds(),
		RefreshTTL: s.cfg.RefreshTTL.Seconds(), ReuseGrace: s.reuseGrace().Seconds(), AutoApprove: s.autoApproveUser(),
		Validate: s.cfg.InternalSecret != "", Capabilities: caps})
}
