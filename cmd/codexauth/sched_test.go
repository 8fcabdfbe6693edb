package main

import (
	"runtime"
	"testing"
)

func TestSchedulerHeadroom(t *testing.T) {
	for _, c := range []struct {
		cores                int
		explicit             bool
		procs, tokenRequests int
	}{
		{2, false, 4, 3},
		{1, false, 3, 2},
		{8, false, 10, 9},
		{2, true, 2, 2}, // GOMAXPROCS set by the operator: respected
	} {
		procs, n := headroom(c.cores, c.explicit)
		if procs != c.procs || n != c.tokenRequests {
			t.Errorf("headroom(%d, %v) = %d processors, %d signing; want %d, %d", c.cores, c.explicit, procs, n, c.procs, c.tokenRequests)
		}
	}
	// Applied once: a process that starts several issuers (the tests do)
	// does not add two processors each time.
	first := schedulerHeadroom()
	procs := runtime.GOMAXPROCS(0)
	if again := schedulerHeadroom(); again != first || runtime.GOMAXPROCS(0) != procs {
		t.Errorf("second call: %d signing and %d processors, want %d and %d", again, runtime.GOMAXPROCS(0), first, procs)
	}
}
