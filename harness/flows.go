package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
)

// CodexWindow is codex's proactive-refresh window (§6.1).
const CodexWindow = 300 * time.Second

// ---- flows every spec builds on

// Login steps, as StepError reports them.
const (
	StepUsercode = "usercode"       // E6: the device code request
	StepApprove  = "approval"       // the approver approving the user code
	StepPoll     = "poll"           // E7: polling until granted
	StepExchange = "code exchange"  // E2: redeeming the device code
	StepTokens   = "token response" // codex's checks of the exchange's answer
)

// StepError says which step of a sign-in failed, so that a spec that only
// needed the tokens can name the requirement covering that step instead of
// failing for a reason it is not about.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// DeviceLogin runs the device flow to tokens: usercode, approval, polls
// until granted, exchange. Sign-ins are paced (see SignIn).
func (t *Target) DeviceLogin(ctx context.Context) (wire.Tokens, error) {
	var toks wire.Tokens
	var err error
	t.SignIn(ctx, func() int {
		toks, err = t.deviceLoginOnce(ctx)
		var se *StepError
		if errors.As(err, &se) && se.Step == StepExchange {
			return t.lastExchangeStatus
		}
		return 200
	})
	return toks, err
}

// SignIn runs one sign-in's redeeming step — step gets a fresh code and
// redeems it, returning the exchange's status. An answer of 5xx is run once
// more from the next wall-clock second, and from then on sign-ins are paced
// a second apart: an issuer that fails two sign-ins of one user within a
// second (CDX-DEVICE-017 checks it on purpose) must not make the specs about
// other things fail at random.
func (t *Target) SignIn(ctx context.Context, step func() (status int)) {
	if t.spaceSignIns {
		t.waitNextSecond(ctx)
	}
	status := step()
	t.NoteSignIn()
	if status/100 == 5 {
		if !t.spaceSignIns {
			t.logf("a sign-in's code exchange answered %d; running it again from the next second, and pacing sign-ins a second apart from now on", status)
		}
		t.spaceSignIns = true
		t.waitNextSecond(ctx)
		step()
		t.NoteSignIn()
	}
}

// NoteSignIn records that a code was just redeemed outside SignIn (a spec
// that signs in twice within one second on purpose), for the pacing.
func (t *Target) NoteSignIn() { t.lastExchange = time.Now() }

func (t *Target) deviceLoginOnce(ctx context.Context) (wire.Tokens, error) {
	d, ex := t.Client.RequestDeviceCode(ctx)
	if ex.Err != nil || ex.Status/100 != 2 || d.DeviceAuthID == "" || d.UserCode == "" {
		return wire.Tokens{}, &StepError{StepUsercode, fmt.Errorf("%s", ex)}
	}
	if err := t.Approver.ApproveDevice(ctx, d.UserCode, t.Issuer+"/codex/device"); err != nil {
		return wire.Tokens{}, &StepError{StepApprove, fmt.Errorf("approve %s: %w", d.UserCode, err)}
	}
	g, err := t.PollGrant(ctx, d, time.Minute)
	if err != nil {
		return wire.Tokens{}, &StepError{StepPoll, err}
	}
	ex = t.Client.ExchangeCode(ctx, g.AuthorizationCode, t.Client.DeviceCallback(), g.CodeVerifier)
	t.lastExchangeStatus = ex.Status
	if ex.Err != nil || ex.Status != 200 {
		return wire.Tokens{}, &StepError{StepExchange, fmt.Errorf("%s", ex)}
	}
	toks, err := wire.ParseTokens(ex)
	if err != nil {
		return toks, &StepError{StepTokens, err}
	}
	return toks, nil
}

// waitNextSecond waits until the wall clock has left the second of the
// last code exchange.
func (t *Target) waitNextSecond(ctx context.Context) {
	next := t.lastExchange.Truncate(time.Second).Add(time.Second)
	if d := time.Until(next); d > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
}

func (t *Target) logf(format string, args ...any) {
	if t.Evidence != nil {
		t.Evidence.Note(format, args...)
	}
	if t.Log != nil {
		t.Log(format, args...)
	}
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
	return t.WaitReal(ctx, d)
}

// WaitReal waits d on the real clock whatever the target's clock
// capabilities (the real codex judges expiry on the machine's clock), and
// counts it as waited for the report; the run's context bounds it.
func (t *Target) WaitReal(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		t.waited += d
		return nil
	}
}

// TakeWaited returns how long the target really waited (instead of moving
// a clock) since the last call, and resets it.
func (t *Target) TakeWaited() time.Duration {
	w := t.waited
	t.waited = 0
	return w
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
