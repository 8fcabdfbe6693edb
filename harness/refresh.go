package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
)

// ErrNoRefreshEncoding means the target refreshed neither codex's JSON body
// nor the same fields form-encoded.
var ErrNoRefreshEncoding = errors.New("the token endpoint refreshes neither JSON nor form bodies")

// RefreshEncoding is the body encoding the target's refresh endpoint
// accepts: codex's JSON when it does, else the form encoding of RFC 6749
// §6. Specs that classify refresh errors use it, so that an issuer refusing
// JSON still has its error codes judged (and fails CDX-REFRESH-001 for the
// JSON itself). It is found once, with a fresh sign-in.
func (t *Target) RefreshEncoding(ctx context.Context) (wire.Encoding, error) {
	if t.refreshEnc != "" || t.refreshEncErr != nil {
		return t.refreshEnc, t.refreshEncErr
	}
	toks, err := t.Login(ctx)
	if err != nil {
		return "", err // a StepError: the caller names the failing step
	}
	ex := t.Client.RefreshEncoded(ctx, wire.EncodingJSON, toks.RefreshToken, "forced")
	if ex.Err == nil && ex.Status == 200 {
		t.refreshEnc = wire.EncodingJSON
		return t.refreshEnc, nil
	}
	form := t.Client.RefreshEncoded(ctx, wire.EncodingForm, toks.RefreshToken, "forced")
	if form.Err == nil && form.Status == 200 {
		t.refreshEnc = wire.EncodingForm
		t.logf("the refresh endpoint refuses codex's JSON body (%d) but accepts a form body: refresh errors are classified with form bodies", ex.Status)
		return t.refreshEnc, nil
	}
	t.refreshEncErr = fmt.Errorf("%w: JSON %s; form %s", ErrNoRefreshEncoding, ex, form)
	return "", t.refreshEncErr
}

// Refresh refreshes in the encoding the target accepts (see
// RefreshEncoding).
func (t *Target) Refresh(ctx context.Context, refreshToken, reason string) (*wire.Exchange, error) {
	enc, err := t.RefreshEncoding(ctx)
	if err != nil {
		return nil, err
	}
	return t.Client.RefreshEncoded(ctx, enc, refreshToken, reason), nil
}

// Presentation is the outcome of presenting a rotated-out refresh token.
type Presentation struct {
	// Answer is the first answer that is not a grace replay.
	Answer *wire.Exchange
	// GraceReplays counts answers that handed back the successor already
	// issued (a legitimate grace window).
	GraceReplays int
	// Waited is how long it took the grace window to close.
	Waited time.Duration
	// Fork is set when the answer rotated the token into a second,
	// different successor: the family forked.
	Fork bool
	// Accepted is set when the answer was a 200 that handed back no
	// refresh token, or the rotated-out token itself: not a grace replay
	// (which hands back the successor already issued) but the rotated-out
	// token working as a live one.
	Accepted bool
}

// ErrGraceTooLong means a grace window outlasted --max-wait.
var ErrGraceTooLong = errors.New("the reuse grace window outlasted --max-wait")

// PresentRotatedOut presents a refresh token that was already rotated into
// successor, as a replaying client or a thief would, and sees through a
// grace window instead of assuming there is none: while the issuer answers
// with the very successor it already issued (a legitimate grace replay), it
// lets time pass — by clock control, or by really waiting within MaxWait —
// and presents again, until an answer is not a grace replay.
func (t *Target) PresentRotatedOut(ctx context.Context, old, successor string) (Presentation, error) {
	var p Presentation
	start := time.Now()
	step := time.Second
	if t.Caps(CapClock) && t.Admin != nil {
		if s, err := t.Admin.State(ctx); err == nil && s.ReuseGrace > 0 {
			step = time.Duration(s.ReuseGrace*float64(time.Second)) + time.Second
		}
	}
	for {
		ex, err := t.Refresh(ctx, old, "proactive_expiry")
		if err != nil {
			return p, err
		}
		p.Answer = ex
		if ex.Err != nil || ex.Status != 200 {
			p.Waited = time.Since(start)
			return p, nil
		}
		switch got := ex.Str("refresh_token"); {
		case got == "" || got == old:
			p.Accepted = true
			return p, nil
		case got != successor:
			p.Fork = true
			return p, nil
		}
		p.GraceReplays++
		if t.Caps(CapClock) {
			if err := t.Admin.Advance(ctx, step); err != nil {
				return p, err
			}
			continue
		}
		if time.Since(start) > t.Cfg.MaxWait {
			return p, fmt.Errorf("%w (%s): still answered with the same successor after %d presentations", ErrGraceTooLong, t.Cfg.MaxWait, p.GraceReplays)
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
