package main

import (
	"os"
	"runtime"
)

// schedulerHeadroom gives the Go scheduler two processors more than the
// machine offers and returns how many token requests should sign at once
// (one more than the cores). Why: the token endpoint's fair queue orders
// requests as they reach it, but a request must first be read off its
// connection, and with every processor busy signing, Go's scheduler runs
// the goroutines a finished request wakes before the ones the network
// readied — so some clients reach the queue late, round after round.
// Measured with 16 clients on 2 cores (docs/benchmarks.md): p99 5.7 × p50
// without the headroom, 1.9 × with it, at the same refresh rate. An
// explicit GOMAXPROCS in the environment is left alone.
func schedulerHeadroom() (tokenConcurrency int) {
	cores := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" {
		return cores
	}
	runtime.GOMAXPROCS(cores + 2)
	return cores + 1
}
