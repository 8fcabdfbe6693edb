package issuer

import (
	"net/http"
	"time"

	"github.com/codexauth/codexauth/adminapi"
	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/oauth"
)

// Admin API: the mock's controls (clock, faults, simulated store outage, runtime settings).

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
