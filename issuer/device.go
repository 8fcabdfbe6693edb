package issuer

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/input"
	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Device-flow pages under the issuer base (contract §4.1, §4.3).
const (
	deviceVerificationPath = "/codex/device"
	// deviceCallbackPath is the redirect URI device codes are bound to and
	// codex redeems them with.
	deviceCallbackPath = "/deviceauth/callback"
)

// unknownDeviceAuthID describes a poll for an id the issuer never issued
// (or already collected).
const unknownDeviceAuthID = "unknown device_auth_id"

func newUserCode() string { return input.NewUserCode() }

// normalizeUserCode makes typed codes comparable: case and separators do
// not matter (input.NormalizeUserCode).
func normalizeUserCode(c string) string { return input.NormalizeUserCode(c) }

func userCodeHash(c string) string { return store.Hash("user-code:" + normalizeUserCode(c)) }

// handleDeviceUserCode starts a device login exactly as codex expects
// (contract §4.1): JSON in, JSON out, interval as a string.
func (s *Server) handleDeviceUserCode(w http.ResponseWriter, r *http.Request) {
	p, perr := readParams(w, r, encBoth)
	if perr != nil {
		oauth.Write(w, perr)
		return
	}
	if err := s.checkClient(p.get("client_id")); err != nil {
		oauth.Write(w, err)
		return
	}
	now := s.clock.Now()
	id := "deviceauth_" + random(24)
	var code string
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		code = newUserCode()
		err = s.store.CreateDeviceCode(r.Context(), store.DeviceCode{IDHash: store.Hash(id), UserCodeHash: userCodeHash(code),
			ClientID: p.get("client_id"), Status: store.DevicePending, CreatedAt: now, ExpiresAt: now.Add(s.cfg.DeviceCodeTTL)})
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		oauth.Write(w, s.storeErr(r, "create device code", err))
		return
	}
	resp := map[string]any{
		"device_auth_id":            id,
		"user_code":                 code,
		"interval":                  strconv.Itoa(s.cfg.DeviceInterval),
		"expires_at":                now.Add(s.cfg.DeviceCodeTTL).UTC().Format(time.RFC3339),
		"expires_in":                int(s.cfg.DeviceCodeTTL / time.Second),
		"verification_uri":          s.URL(deviceVerificationPath),
		"verification_uri_complete": s.URL(deviceVerificationPath + "?user_code=" + code),
	}
	s.metrics.deviceCodes.Inc()
	writeJSON(w, http.StatusOK, resp)
}

// handleDeviceToken answers codex's poll (contract §4.2): 403 while
// pending (codex retries only on 403/404), then once the server-held PKCE
// triple. Denial, expiry, unknown ids and a second exchange get 400, which
// codex reports at once instead of polling for 15 minutes.
func (s *Server) handleDeviceToken(w http.ResponseWriter, r *http.Request) {
	p, perr := readParams(w, r, encBoth)
	if perr != nil {
		oauth.Write(w, perr)
		return
	}
	if err := p.require("device_auth_id", "user_code"); err != nil {
		oauth.Write(w, err)
		return
	}
	ctx := r.Context()
	now := s.clock.Now()
	idHash := store.Hash(p.get("device_auth_id"))
	d, err := s.store.GetDeviceCode(ctx, idHash)
	if s.storeFailed(w, r, err, "get device code", oauth.InvalidGrant(unknownDeviceAuthID)) {
		return
	}
	if d.UserCodeHash != userCodeHash(p.get("user_code")) {
		oauth.Write(w, oauth.InvalidGrant("user_code does not belong to this device_auth_id"))
		return
	}
	// Mock mode approves by itself, but not at the very first poll of a
	// code: that one is answered pending, as it would be while a person
	// reads the code, so that a client (and the conformance suite) sees the
	// pending answer it must handle.
	if auto := s.autoApproveUser(); d.Status == store.DevicePending && auto != "" && now.Before(d.ExpiresAt) && s.firstPolls.seen(idHash, now) {
		if _, err := s.store.DecideDeviceCode(ctx, d.UserCodeHash, true, auto, now); err != nil && !errors.Is(err, store.ErrConflict) {
			oauth.Write(w, s.storeErr(r, "auto-approve device code", err))
			return
		}
	}
	d, err = s.store.ClaimDeviceCode(ctx, idHash, now)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrPending):
		oauth.Write(w, authorizationPending())
		return
	case errors.Is(err, store.ErrDenied):
		oauth.Write(w, oauth.New(http.StatusBadRequest, oauth.CodeAccessDenied, "the user denied the sign-in request"))
		return
	case errors.Is(err, store.ErrExpired):
		oauth.Write(w, oauth.New(http.StatusBadRequest, oauth.CodeExpiredToken, "the device code has expired; start the login again"))
		return
	case errors.Is(err, store.ErrAlreadyUsed):
		oauth.Write(w, oauth.InvalidGrant("the device code was already exchanged"))
		return
	case errors.Is(err, store.ErrNotFound):
		oauth.Write(w, oauth.InvalidGrant(unknownDeviceAuthID))
		return
	default:
		oauth.Write(w, s.storeErr(r, "claim device code", err))
		return
	}
	// The issuer plays the PKCE client for the device (contract §4.3): it
	// makes the verifier, binds the code to its challenge and the device
	// redirect URI, and hands both to the poller once.
	verifier := random(64)
	challenge := s256(verifier)
	code := "ac_" + random(32)
	if err := s.store.CreateAuthCode(ctx, store.AuthCode{Hash: store.Hash(code), ClientID: d.ClientID, RedirectURI: s.URL(deviceCallbackPath),
		CodeChallenge: challenge, Scope: defaultScope, UserID: d.UserID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.AuthCodeTTL)}); err != nil {
		oauth.Write(w, s.storeErr(r, "create device authorization code", err))
		return
	}
	s.log.Info("device code exchanged", "user", d.UserID, "client", d.ClientID)
	writeJSON(w, http.StatusOK, map[string]any{"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier})
}

// authorizationPending answers a poll before the user decided: 403, the
// one status besides 404 on which codex polls again (contract §4.2).
func authorizationPending() *oauth.Error {
	return oauth.New(http.StatusForbidden, oauth.CodeAuthorizationPending, "the user has not approved the sign-in yet")
}

// defaultScope is what codex asks for (contract §3.2).
const defaultScope = "openid profile email offline_access api.connectors.read api.connectors.invoke"

// firstPolls remembers which device codes were polled at least once (mock
// mode's auto-approval waits for the second poll). In memory: with several
// replicas a code may be answered pending once per replica, which codex
// handles like any pending answer.
type firstPolls struct {
	mu     sync.Mutex
	seenAt map[string]time.Time
}

// seen reports whether idHash was polled before, and records this poll.
func (f *firstPolls) seen(idHash string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seenAt == nil {
		f.seenAt = map[string]time.Time{}
	}
	if _, ok := f.seenAt[idHash]; ok {
		return true
	}
	for k, t := range f.seenAt {
		if now.Sub(t) > time.Hour { // device codes live 15 minutes
			delete(f.seenAt, k)
		}
	}
	f.seenAt[idHash] = now
	return false
}
