package issuer

import (
	"context"
	"net/http"
)

// cpuQueue admits token-endpoint requests to the processors in arrival
// order, as many at a time as there are processors. A refresh is two RSA
// signatures (about 1.6 ms of one core); Go's scheduler keeps a goroutine
// that finds its next request already waiting on its processor, so under
// load some clients are served back to back while others wait many rounds:
// measured with 16 clients on 2 cores, p50 2 ms and p99 90 ms. Queued in
// order, every client waits about as long as the others (p99 within 3 ×
// p50 at the same throughput; docs/benchmarks.md). A request steps out of
// the queue while it waits on the store (offCPU), so a slot never idles
// during a group commit. The queue orders requests as they reach it; how
// promptly they reach it is the Go scheduler's business, which is why
// codexauth serve runs with processors to spare (cmd/codexauth/sched.go)
// and sizes the queue with Config.TokenConcurrency.
type cpuQueue struct{ slots chan struct{} }

func newCPUQueue(n int) *cpuQueue { return &cpuQueue{slots: make(chan struct{}, max(n, 1))} }

type cpuQueueKey struct{}

// admit is the middleware: a channel's blocked senders are woken in the
// order they blocked, which makes the queue first come, first served.
func (q *cpuQueue) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.slots <- struct{}{}
		defer func() { <-q.slots }()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), cpuQueueKey{}, q)))
	})
}

// offCPU runs wait — a call that blocks on I/O — without holding the
// request's slot, then queues for a slot again.
func offCPU[T any](ctx context.Context, wait func() (T, error)) (T, error) {
	q, _ := ctx.Value(cpuQueueKey{}).(*cpuQueue)
	if q == nil {
		return wait()
	}
	<-q.slots
	defer func() { q.slots <- struct{}{} }()
	return wait()
}
