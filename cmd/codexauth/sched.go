package main

import (
	"os"
	"runtime"
	"sync"
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
// explicit GOMAXPROCS in the environment is left alone. It is applied once
// per process, however many issuers the process starts.
var schedulerHeadroom = sync.OnceValue(func() (tokenConcurrency int) {
	procs, concurrency := headroom(runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS") != "")
	runtime.GOMAXPROCS(procs)
	return concurrency
})

// headroom is the arithmetic of schedulerHeadroom: processors for the
// scheduler and token requests signing at once, for cores processors.
func headroom(cores int, explicit bool) (procs, tokenConcurrency int) {
	if explicit {
		return cores, cores
	}
	return cores + 2, cores + 1
}
