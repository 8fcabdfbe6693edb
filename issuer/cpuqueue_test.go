package issuer

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestCPUQueueAdmitsAtMostN: never more requests inside than slots.
func TestCPUQueueAdmitsAtMostN(t *testing.T) {
	q := newCPUQueue(2)
	var inside, most atomic.Int32
	h := q.admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inside.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		for i := 0; i < 1000; i++ { // stay inside a little while
			_ = i * i
		}
		inside.Add(-1)
	}))
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/oauth/token", nil))
		}()
	}
	wg.Wait()
	if m := most.Load(); m < 1 || m > 2 {
		t.Fatalf("%d requests were inside at once, want at most 2", m)
	}
}

// TestCPUQueueStepsOutWhileWaiting: a request waiting on the store gives
// its slot up. With one slot, A waits inside offCPU until B has been
// admitted and finished; if A kept its slot, B could never enter.
func TestCPUQueueStepsOutWhileWaiting(t *testing.T) {
	q := newCPUQueue(1)
	bDone := make(chan struct{})
	aWaiting := make(chan struct{})
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	h := q.admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a" {
			_, _ = offCPU(r.Context(), func() (struct{}, error) {
				close(aWaiting)
				<-bDone
				return struct{}{}, nil
			})
			note("a")
			return
		}
		note("b")
	}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/a", nil))
	}()
	<-aWaiting
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/b", nil))
	close(bDone)
	wg.Wait()
	if len(order) != 2 || order[0] != "b" || order[1] != "a" {
		t.Fatalf("order %v, want [b a]", order)
	}
	// Outside the queue (no slot in the context), offCPU just runs the call.
	if v, err := offCPU(t.Context(), func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Fatalf("offCPU without a queue = %d, %v", v, err)
	}
}
