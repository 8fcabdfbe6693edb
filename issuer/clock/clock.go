// Package clock is the issuer's only source of time. Every expiry, skew and
// grace decision reads a Clock, so tests (and the admin API) can move time
// forward instead of waiting for it.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Adjustable is the wall clock plus an offset that can only move forward
// through Advance, or be set explicitly through Set. Safe for concurrent use.
type Adjustable struct {
	mu     sync.RWMutex
	base   Clock
	offset time.Duration
}

// NewAdjustable wraps base (nil means the wall clock).
func NewAdjustable(base Clock) *Adjustable {
	if base == nil {
		base = Real{}
	}
	return &Adjustable{base: base}
}

// Now returns the base time plus the offset.
func (a *Adjustable) Now() time.Time {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.base.Now().Add(a.offset)
}

// Advance moves the clock forward by d (negative values are ignored: time
// running backwards would let expired tokens come back to life).
func (a *Adjustable) Advance(d time.Duration) time.Time {
	a.mu.Lock()
	if d > 0 {
		a.offset += d
	}
	a.mu.Unlock()
	return a.Now()
}

// Offset reports how far the clock is ahead of its base.
func (a *Adjustable) Offset() time.Duration {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.offset
}

// Reset puts the clock back on its base time.
func (a *Adjustable) Reset() {
	a.mu.Lock()
	a.offset = 0
	a.mu.Unlock()
}

// Fixed is a clock frozen at one instant, for unit tests.
type Fixed struct {
	mu sync.Mutex
	t  time.Time
}

// NewFixed returns a clock frozen at t.
func NewFixed(t time.Time) *Fixed { return &Fixed{t: t} }

// Now returns the frozen instant.
func (f *Fixed) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }

// Add moves the frozen instant.
func (f *Fixed) Add(d time.Duration) { f.mu.Lock(); f.t = f.t.Add(d); f.mu.Unlock() }
