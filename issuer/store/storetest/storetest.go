// Package storetest is the one behavioural suite every store backend must
// pass (in the spirit of dex's storage/conformance). A backend's test calls
// Run with a factory that returns a fresh, empty store.
package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// Factory returns a new, empty store; Run closes it.
type Factory func(t *testing.T) store.Store

// Concurrency is how many goroutines race in the one-time-step tests.
var Concurrency = 32

// Run runs the whole suite: one test per aggregate behaviour (accounts.go,
// codes.go, refresh.go, keys.go) and the races on every one-time step.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Users", testUsers},
		{"AuthCodeConsumedOnce", testAuthCode},
		{"AuthCodeExpired", testAuthCodeExpired},
		{"DeviceLifecycle", testDevice},
		{"DeviceDeniedAndExpired", testDeviceDenied},
		{"RefreshRotation", testRotation},
		{"RefreshReuseRevokesFamily", testReuse},
		{"RefreshGraceReplay", testGrace},
		{"RefreshExpiredAndRevoked", testRefreshExpired},
		{"AccessTokensFollowFamily", testAccess},
		{"RotationRecordsAccessAndReadsUser", testRotationRecordsAccessAndReadsUser},
		{"Sessions", testSessions},
		{"SigningKeys", testKeys},
		{"Secrets", testSecrets},
		{"AgentIdentities", testAgents},
		{"PersonalAccessTokens", testPATs},
		{"GarbageCollection", testGC},
		{"ConcurrentCodeConsume", testConcurrentCode},
		{"ConcurrentDeviceClaim", testConcurrentDevice},
		{"ConcurrentRotation", testConcurrentRotation},
		{"ConcurrentChains", testConcurrentChains},
		{"RotationFailureIsolated", testRotationFailureIsolated},
		{"ConcurrentKeyBootstrap", testConcurrentKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %v", got, want)
	}
}

// race runs fn Concurrency times at once and returns the errors.
func race(fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, Concurrency)
	for i := 0; i < Concurrency; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}(i)
	}
	close(start)
	wg.Wait()
	return errs
}

// winners counts the nil errors; every other must be ErrAlreadyUsed.
func winners(t *testing.T, errs []error) int {
	t.Helper()
	n := 0
	for _, err := range errs {
		switch {
		case err == nil:
			n++
		case errors.Is(err, store.ErrAlreadyUsed):
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	return n
}
