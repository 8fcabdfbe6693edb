package harness

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
)

// CodexWindow is codex's proactive-refresh window (§6.1).
const CodexWindow = 300 * time.Second

// ---- flows every spec builds on

// DeviceLogin runs the device flow to tokens: usercode, approval, polls
// until granted, exchange.
func (t *Target) DeviceLogin(ctx context.Context) (wire.Tokens, error) {
	d, ex := t.Client.RequestDeviceCode(ctx)
	if ex.Err != nil || ex.Status/100 != 2 || d.DeviceAuthID == "" || d.UserCode == "" {
		return wire.Tokens{}, fmt.Errorf("device code request: %s", ex)
	}
	if err := t.Approver.ApproveDevice(ctx, d.UserCode, t.Issuer+"/codex/device"); err != nil {
		return wire.Tokens{}, fmt.Errorf("approve %s: %w", d.UserCode, err)
	}
	g, err := t.PollGrant(ctx, d, time.Minute)
	if err != nil {
		return wire.Tokens{}, err
	}
	ex = t.Client.ExchangeCode(ctx, g.AuthorizationCode, t.Client.DeviceCallback(), g.CodeVerifier)
	if ex.Err != nil || ex.Status != 200 {
		return wire.Tokens{}, fmt.Errorf("device code exchange failed: %s", ex)
	}
	return wire.ParseTokens(ex)
}

// PollGrant polls until the code is granted, failing on any answer codex
// would not retry. Polls at most once a second (stricter than codex when
// the interval is longer: the issuer must keep answering pending).
func (t *Target) PollGrant(ctx context.Context, d wire.DeviceCode, timeout time.Duration) (wire.DeviceGrant, error) {
	deadline := time.Now().Add(timeout)
	for {
		ex := t.Client.DevicePoll(ctx, d)
		switch {
		case ex.Err != nil:
			return wire.DeviceGrant{}, fmt.Errorf("poll: %v", ex.Err)
		case ex.Status/100 == 2:
			return wire.ParseDeviceGrant(ex)
		case !wire.IsPending(ex.Status):
			return wire.DeviceGrant{}, fmt.Errorf("device auth failed with status %d: %s", ex.Status, ex)
		}
		if time.Now().After(deadline) {
			return wire.DeviceGrant{}, fmt.Errorf("still pending after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return wire.DeviceGrant{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// BrowserLogin runs authorize (through the approver) and the code exchange.
func (t *Target) BrowserLogin(ctx context.Context, redirectURI string) (wire.Tokens, error) {
	p := wire.NewPKCE()
	state := wire.NewState()
	loc, err := t.Approver.Authorize(ctx, t.Client.AuthorizeURL(redirectURI, p, state), redirectURI)
	if err != nil {
		return wire.Tokens{}, err
	}
	cb, err := wire.ParseCallback(loc, redirectURI)
	if err != nil {
		return wire.Tokens{}, err
	}
	if cb.Error != "" || cb.Code == "" {
		return wire.Tokens{}, fmt.Errorf("authorize answered error=%q %q", cb.Error, cb.ErrDesc)
	}
	ex := t.Client.ExchangeCode(ctx, cb.Code, redirectURI, p.Verifier)
	if ex.Err != nil || ex.Status != 200 {
		return wire.Tokens{}, fmt.Errorf("code exchange failed: %s", ex)
	}
	return wire.ParseTokens(ex)
}

// Login gets fresh tokens by the device flow.
func (t *Target) Login(ctx context.Context) (wire.Tokens, error) { return t.DeviceLogin(ctx) }

// IssuerNow is the target's current time: its clock when the admin API
// reports it, else ours.
func (t *Target) IssuerNow(ctx context.Context) time.Time {
	if t.Admin != nil {
		var c struct {
			Now time.Time `json:"now"`
		}
		if err := t.Admin.call(ctx, http.MethodGet, "/clock", nil, &c); err == nil && !c.Now.IsZero() {
			return c.Now
		}
	}
	return time.Now()
}

// Advance moves the target's time forward: by clock control, or by really
// waiting when that fits within MaxWait.
func (t *Target) Advance(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if t.caps[CapClock] == "" {
		return t.Admin.Advance(ctx, d)
	}
	if d > t.Cfg.MaxWait {
		return fmt.Errorf("would need to wait %s for real, more than --max-wait %s", d, t.Cfg.MaxWait)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// IntoRefreshWindow moves time until the access token expires within
// codex's 300 s window (200 s left, or 5 s short of expiry).
func (t *Target) IntoRefreshWindow(ctx context.Context, accessToken string) error {
	exp, err := wire.AccessExp(accessToken)
	if err != nil {
		return err
	}
	left := time.Unix(exp, 0).Sub(t.IssuerNow(ctx))
	target := 200 * time.Second
	if t.caps[CapClock] != "" {
		target = CodexWindow - 5*time.Second
	}
	return t.Advance(ctx, left-target)
}

// Caps reports whether the target has c.
func (t *Target) Caps(c Capability) bool { return t.Missing(c) == "" }
