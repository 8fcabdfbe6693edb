package issuer

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/codexauth/codexauth/adminapi"
	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
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

func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		oauth.Write(w, s.storeErr(r, "list users", err))
		return
	}
	for i := range users {
		users[i].PasswordHash = ""
	}
	if users == nil {
		users = []store.User{}
	}
	writeJSON(w, http.StatusOK, users)
}

func (s *Server) adminGetUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.store.GetUser(r.Context(), chi.URLParam(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		oauth.Write(w, oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no user %q", chi.URLParam(r, "id")))
		return
	} else if err != nil {
		oauth.Write(w, s.storeErr(r, "get user", err))
		return
	}
	u.PasswordHash = ""
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) adminPutUser(w http.ResponseWriter, r *http.Request) {
	var in UserFixture
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	in.ID = chi.URLParam(r, "id")
	u, err := in.ToUser()
	if err != nil {
		oauth.Write(w, oauth.InvalidRequest("%v", err))
		return
	}
	if err := s.store.PutUser(r.Context(), u); err != nil {
		oauth.Write(w, s.storeErr(r, "put user", err))
		return
	}
	u.PasswordHash = ""
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) adminDeleteUser(w http.ResponseWriter, r *http.Request) {
	err := s.store.DeleteUser(r.Context(), chi.URLParam(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		oauth.Write(w, oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no user %q", chi.URLParam(r, "id")))
		return
	} else if err != nil {
		oauth.Write(w, s.storeErr(r, "delete user", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminClock(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, adminapi.Clock{Now: s.clock.Now().UTC(), OffsetSeconds: s.clockOffset().Seconds()})
}

func (s *Server) adminClockAdvance(w http.ResponseWriter, r *http.Request) {
	var in adminapi.ClockAdvance
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	d := time.Duration(in.Seconds * float64(time.Second))
	if in.Duration != "" {
		pd, err := time.ParseDuration(in.Duration)
		if err != nil {
			oauth.Write(w, oauth.InvalidRequest("duration: %v", err))
			return
		}
		d = pd
	}
	if d <= 0 {
		oauth.Write(w, oauth.InvalidRequest("advance by a positive duration: the clock never runs backwards"))
		return
	}
	adj, ok := s.clock.(*clock.Adjustable)
	if !ok {
		oauth.Write(w, oauth.New(http.StatusConflict, "clock_fixed", "this issuer's clock is not adjustable"))
		return
	}
	adj.Advance(d)
	s.log.Info("clock advanced", "by", d, "offset", adj.Offset())
	s.adminClock(w, r)
}

func (s *Server) adminClockReset(w http.ResponseWriter, r *http.Request) {
	if adj, ok := s.clock.(*clock.Adjustable); ok {
		adj.Reset()
	}
	s.adminClock(w, r)
}

// FaultState lists the catalogue and what is on.
type FaultState struct {
	Enabled   []string `json:"enabled"`
	Available []string `json:"available"`
}

func (s *Server) adminFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, FaultState{Enabled: s.faults.Enabled(), Available: faults.Names()})
}

func (s *Server) adminSetFaults(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Enabled []string `json:"enabled"`
	}
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	for _, n := range in.Enabled {
		if _, ok := faults.Lookup(n); !ok {
			oauth.Write(w, oauth.InvalidRequest("unknown fault %q", n))
			return
		}
	}
	s.faults.Reset()
	for _, n := range in.Enabled {
		_ = s.faults.Enable(n)
	}
	s.log.Warn("faults switched", "enabled", s.faults.Enabled())
	s.adminFaults(w, r)
}

func (s *Server) adminDeviceDecide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			UserCode string `json:"user_code"`
			User     string `json:"user"`
		}
		if err := readJSON(w, r, &in); err != nil {
			oauth.Write(w, err)
			return
		}
		if in.UserCode == "" || (approve && in.User == "") {
			oauth.Write(w, oauth.InvalidRequest("user_code (and, to approve, user) are required"))
			return
		}
		if approve {
			if _, err := s.store.GetUser(r.Context(), in.User); err != nil {
				oauth.Write(w, oauth.InvalidRequest("no user %q", in.User))
				return
			}
		}
		d, err := s.store.DecideDeviceCode(r.Context(), userCodeHash(in.UserCode), approve, in.User, s.clock.Now())
		switch {
		case errors.Is(err, store.ErrNotFound):
			oauth.Write(w, oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no device code %q", in.UserCode))
		case errors.Is(err, store.ErrExpired):
			oauth.Write(w, oauth.New(http.StatusConflict, oauth.CodeExpiredToken, "device code expired"))
		case errors.Is(err, store.ErrConflict):
			oauth.Write(w, oauth.New(http.StatusConflict, "already_decided", "device code was already decided"))
		case err != nil:
			oauth.Write(w, s.storeErr(r, "decide device code", err))
		default:
			writeJSON(w, http.StatusOK, map[string]any{"status": d.Status, "client_id": d.ClientID})
		}
	}
}

// adminAuthorize completes an authorization request headlessly as a user
// and returns the redirect the browser would follow.
func (s *Server) adminAuthorize(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL  string `json:"url"`
		User string `json:"user"`
	}
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	u, err := url.Parse(in.URL)
	if err != nil || in.User == "" {
		oauth.Write(w, oauth.InvalidRequest("url (an authorize URL) and user are required"))
		return
	}
	if _, err := s.store.GetUser(r.Context(), in.User); err != nil {
		oauth.Write(w, oauth.InvalidRequest("no user %q", in.User))
		return
	}
	req, redirectErr, pageErr := s.validateAuthorize(u.Query())
	if pageErr != nil {
		oauth.Write(w, pageErr)
		return
	}
	if redirectErr != nil {
		writeJSON(w, http.StatusOK, map[string]string{"redirect": s.redirectError(req, redirectErr)})
		return
	}
	loc, err := s.completeAuthorize(r.Context(), req, in.User)
	if err != nil {
		oauth.Write(w, s.storeErr(r, "create authorization code", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": loc})
}

func (s *Server) adminRotateKeys(w http.ResponseWriter, r *http.Request) {
	overlap := s.cfg.AccessTTL
	if s.cfg.IDTokenTTL > overlap {
		overlap = s.cfg.IDTokenTTL
	}
	if agentTTL > overlap {
		overlap = agentTTL
	}
	kid, err := s.keys.Rotate(r.Context(), overlap+time.Minute)
	if err != nil {
		oauth.Write(w, s.storeErr(r, "rotate keys", err))
		return
	}
	s.log.Info("signing key rotated", "kid", kid)
	writeJSON(w, http.StatusOK, map[string]any{"kid": kid, "jwks": s.keys.Document(r.Context())})
}

func (s *Server) adminFamilies(w http.ResponseWriter, r *http.Request) {
	fams, err := s.store.ListFamilies(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		oauth.Write(w, s.storeErr(r, "list families", err))
		return
	}
	out := []adminapi.Family{}
	for _, f := range fams {
		out = append(out, adminapi.Family{ID: f.ID, UserID: f.UserID, ClientID: f.ClientID, CreatedAt: f.CreatedAt, Revoked: f.Revoked(), RevokeReason: f.RevokeReason})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminRevokeFamily(w http.ResponseWriter, r *http.Request) {
	err := s.store.RevokeFamily(r.Context(), chi.URLParam(r, "id"), "admin", s.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		oauth.Write(w, oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no family %q", chi.URLParam(r, "id")))
		return
	} else if err != nil {
		oauth.Write(w, s.storeErr(r, "revoke family", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminOutage(w http.ResponseWriter, r *http.Request) {
	var in adminapi.Outage
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	s.SetOutage(in.Enabled)
	s.log.Warn("simulated store outage", "enabled", in.Enabled)
	writeJSON(w, http.StatusOK, map[string]bool{"enabled": in.Enabled})
}

// adminSettings applies runtime overrides of the configuration (mock
// control): access_ttl_seconds 0 restores the configured lifetime (short
// values are allowed here: tests use them to put codex inside its refresh
// window); reuse_grace_seconds 0 means no grace window; auto_approve false
// suspends --auto-approve so a harness can observe pending polls.
func (s *Server) adminSettings(w http.ResponseWriter, r *http.Request) {
	var in adminapi.Settings
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	if v := in.AccessTTLSeconds; v != nil {
		if *v < 0 || (*v > 0 && *v < 30) {
			oauth.Write(w, oauth.InvalidRequest("access_ttl_seconds must be 0 (configured value) or at least 30"))
			return
		}
		s.accessTTLOverride.Store(int64(*v * float64(time.Second)))
	}
	if v := in.ReuseGraceSeconds; v != nil {
		if *v < 0 {
			oauth.Write(w, oauth.InvalidRequest("reuse_grace_seconds must not be negative"))
			return
		}
		g := int64(*v * float64(time.Second))
		if g == 0 {
			g = -1 // explicit zero: no grace, whatever the configuration says
		}
		s.reuseGraceOverride.Store(g)
	}
	if v := in.AutoApprove; v != nil {
		s.autoApproveOff.Store(!*v)
	}
	s.log.Warn("settings changed", "access_ttl", s.accessTTL(), "reuse_grace", s.reuseGrace(), "auto_approve", s.autoApproveUser())
	writeJSON(w, http.StatusOK, map[string]any{"access_ttl_seconds": s.accessTTL().Seconds(), "reuse_grace_seconds": s.reuseGrace().Seconds(),
		"auto_approve_user": s.autoApproveUser()})
}

// autoApproveUser is the mock-mode user, unless suspended by the admin API.
func (s *Server) autoApproveUser() string {
	if s.autoApproveOff.Load() {
		return ""
	}
	return s.cfg.AutoApproveUser
}

// adminMintTokens signs a user in without any flow: a new family and the
// token response a code exchange would give. For client developers who
// need tokens (or a ready auth.json) in one call.
func (s *Server) adminMintTokens(w http.ResponseWriter, r *http.Request) {
	var in adminapi.MintTokens
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	if in.ClientID == "" {
		in.ClientID = s.cfg.ClientIDs[0]
	}
	if err := s.checkClient(in.ClientID); err != nil {
		oauth.Write(w, err)
		return
	}
	ctx := r.Context()
	u, err := s.store.GetUser(ctx, in.User)
	if errors.Is(err, store.ErrNotFound) {
		oauth.Write(w, oauth.InvalidRequest("no user %q", in.User))
		return
	} else if err != nil {
		oauth.Write(w, s.storeErr(r, "get user", err))
		return
	}
	now := s.clock.Now()
	fam := store.Family{ID: "fam_" + random(16), UserID: u.ID, ClientID: in.ClientID, Scope: defaultScope, CreatedAt: now}
	refresh := newRefreshToken()
	if err := s.store.CreateFamily(ctx, fam, store.RefreshToken{Hash: store.Hash(refresh), CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}); err != nil {
		oauth.Write(w, s.storeErr(r, "create family", err))
		return
	}
	resp, err := s.issue(ctx, u, fam, refresh, authnContext{AuthTime: now.Unix()}, fam.Scope)
	if err != nil {
		oauth.Write(w, s.storeErr(r, "issue tokens", err))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
