package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Console actions: what each form of the console does, mostly through the admin API's handlers (viaAdmin).

func (s *Server) consoleClockAdvance(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	by := strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("by")), "+")
	if by == "" {
		return "", oauth.InvalidRequest("say how far to move the clock, e.g. 5m, 1h or 24h")
	}
	out, e := s.viaAdmin(ctx, s.adminClockAdvance, map[string]string{"duration": by})
	if e != nil {
		return "", e
	}
	return fmt.Sprintf("Clock advanced by %s: the issuer's time is now %v.", by, out["now"]), nil
}

func (s *Server) consoleClockReset(ctx context.Context, _ *http.Request) (string, *oauth.Error) {
	if _, e := s.viaAdmin(ctx, s.adminClockReset, struct{}{}); e != nil {
		return "", e
	}
	return "Clock reset to the wall clock.", nil
}

func (s *Server) consoleSettings(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	in := map[string]any{}
	for _, k := range []string{"access_ttl_seconds", "reuse_grace_seconds"} {
		if v := strings.TrimSpace(r.PostFormValue(k)); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return "", oauth.InvalidRequest("%s: %q is not a number of seconds", k, v)
			}
			in[k] = f
		}
	}
	switch r.PostFormValue("auto_approve") {
	case "on":
		in["auto_approve"] = true
	case "off":
		in["auto_approve"] = false
	}
	out, e := s.viaAdmin(ctx, s.adminSettings, in)
	if e != nil {
		return "", e
	}
	return fmt.Sprintf("Settings applied: access tokens live %vs, reuse grace %vs.", out["access_ttl_seconds"], out["reuse_grace_seconds"]), nil
}

func (s *Server) consoleOutage(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	on := r.PostFormValue("enabled") == "on"
	if _, e := s.viaAdmin(ctx, s.adminOutage, map[string]bool{"enabled": on}); e != nil {
		return "", e
	}
	if on {
		return "Simulated store outage ON: every store call fails, the issuer answers 503 temporarily_unavailable.", nil
	}
	return "Simulated store outage off.", nil
}

func (s *Server) consoleFault(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	name, on := r.PostFormValue("name"), r.PostFormValue("on") == "1"
	s.console.mu.Lock()
	defer s.console.mu.Unlock()
	enabled := slices.DeleteFunc(s.faults.Enabled(), func(n string) bool { return n == name })
	if on {
		enabled = append(enabled, name)
	}
	if _, e := s.viaAdmin(ctx, s.adminSetFaults, map[string][]string{"enabled": enabled}); e != nil {
		return "", e
	}
	if on {
		return "Fault " + name + " is ON.", nil
	}
	return "Fault " + name + " is off.", nil
}

// consoleUser adds or replaces a user from its fixture (JSON). A user who
// has a password keeps it unless the fixture sets a new one.
func (s *Server) consoleUser(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	dec := json.NewDecoder(strings.NewReader(r.PostFormValue("fixture")))
	dec.DisallowUnknownFields()
	var f UserFixture
	if err := dec.Decode(&f); err != nil {
		return "", oauth.InvalidRequest("the user must be a JSON object of fixture fields (id, email, plan_type, …): %v", err)
	}
	u, err := f.ToUser()
	if err != nil {
		return "", oauth.InvalidRequest("%v", err)
	}
	old, err := s.store.GetUser(ctx, u.ID)
	switch {
	case err == nil:
		if f.Password == "" {
			u.PasswordHash = old.PasswordHash
		}
	case !errors.Is(err, store.ErrNotFound):
		return "", oauth.Unavailable(fmt.Errorf("get user: %w", err))
	}
	if err := s.store.PutUser(ctx, u); err != nil {
		return "", oauth.Unavailable(fmt.Errorf("put user: %w", err))
	}
	if old.ID == "" {
		return "User " + u.ID + " added.", nil
	}
	return "User " + u.ID + " saved: new tokens carry the new claims.", nil
}

func (s *Server) consoleRotateKeys(ctx context.Context, _ *http.Request) (string, *oauth.Error) {
	out, e := s.viaAdmin(ctx, s.adminRotateKeys, struct{}{})
	if e != nil {
		return "", e
	}
	return fmt.Sprintf("Signing key rotated: new tokens are signed with %v; the old key stays in the JWKS until its tokens expire.", out["kid"]), nil
}

func (s *Server) consoleDevice(approve bool) consoleAction {
	return func(ctx context.Context, r *http.Request) (string, *oauth.Error) {
		d, ok := s.console.events.deviceByID(r.PostFormValue("device"))
		if !ok {
			return "", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no device code %q in this process's records", r.PostFormValue("device"))
		}
		user := r.PostFormValue("user")
		if approve {
			if _, err := s.store.GetUser(ctx, user); err != nil {
				return "", oauth.InvalidRequest("no user %q", user)
			}
		}
		_, err := s.store.DecideDeviceCode(ctx, d.userCodeHash, approve, user, s.clock.Now())
		switch {
		case errors.Is(err, store.ErrNotFound):
			return "", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "the device code is gone")
		case errors.Is(err, store.ErrExpired):
			return "", oauth.New(http.StatusConflict, oauth.CodeExpiredToken, "the device code has expired")
		case errors.Is(err, store.ErrConflict):
			return "", oauth.New(http.StatusConflict, "already_decided", "the device code was already decided")
		case err != nil:
			return "", oauth.Unavailable(fmt.Errorf("decide device code: %w", err))
		}
		if approve {
			return "Device code " + d.Hint + " approved as " + user + ": the polling client gets its tokens at its next poll.", nil
		}
		return "Device code " + d.Hint + " denied: the polling client is told at its next poll.", nil
	}
}

func (s *Server) consoleRevokeFamily(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	id := r.PostFormValue("family")
	err := s.store.RevokeFamily(ctx, id, "console", s.clock.Now())
	if e := actionStoreErr(err, "revoke family", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no family %q", id)); e != nil {
		return "", e
	}
	return "Family " + id + " revoked: its refresh tokens are refused (refresh_token_invalidated) and its access tokens no longer validate.", nil
}

func (s *Server) consoleRevokeAgent(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	id := r.PostFormValue("runtime_id")
	err := s.store.RevokeAgentIdentity(ctx, id, s.clock.Now())
	if e := actionStoreErr(err, "revoke agent identity", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no agent identity %q", id)); e != nil {
		return "", e
	}
	return "Agent identity " + id + " revoked.", nil
}

func (s *Server) consoleRevokePAT(ctx context.Context, r *http.Request) (string, *oauth.Error) {
	p, ok := s.console.events.patByID(r.PostFormValue("pat"))
	if !ok {
		return "", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no personal access token %q in this process's records", r.PostFormValue("pat"))
	}
	err := s.store.RevokePAT(ctx, p.hash, s.clock.Now())
	if e := actionStoreErr(err, "revoke personal access token", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "the token is gone")); e != nil {
		return "", e
	}
	return "Personal access token " + p.ID + " of " + p.UserID + " revoked.", nil
}

// actionStoreErr is a console action's error for a failed store call:
// notFound when the store has no such record, 503 otherwise; nil for nil.
func actionStoreErr(err error, what string, notFound *oauth.Error) *oauth.Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound
	}
	return oauth.Unavailable(fmt.Errorf("%s: %w", what, err))
}
