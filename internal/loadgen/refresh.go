package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Chain is one client's current credentials.
type Chain struct {
	Refresh string
	Access  string
}

// Prepare gives each of n clients its first credentials: a device sign-in
// on codexauth; on the stateless mock any refresh token is accepted, so a
// made-up one starts each chain.
func Prepare(ctx context.Context, c *http.Client, kind Kind, base string, n int) ([]Chain, error) {
	chains := make([]Chain, n)
	for i := range chains {
		if kind == MockServer {
			chains[i] = Chain{Refresh: fmt.Sprintf("bench-start-%d", i)}
			continue
		}
		tok, err := SignIn(ctx, c, base)
		if err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		chains[i] = Chain{Refresh: tok.RefreshToken, Access: tok.AccessToken}
	}
	return chains, nil
}

// Result is what one timed phase measured.
type Result struct {
	OK      int           `json:"ok"`
	Errors  int           `json:"errors"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Rate    float64       `json:"rate_per_s"` // successful answers per second
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
	// ErrorSamples are the first distinct error messages (at most 5).
	ErrorSamples []string `json:"error_samples,omitempty"`
}

// workerLog is one worker's record of a timed phase.
type workerLog struct {
	latencies []time.Duration // of successful answers
	errors    int
	samples   []string
}

func (w *workerLog) fail(err error) {
	w.errors++
	if len(w.samples) < 5 {
		w.samples = append(w.samples, err.Error())
	}
}

// summarise merges the workers' logs into a Result.
func summarise(logs []*workerLog, elapsed time.Duration) Result {
	var all []time.Duration
	r := Result{Elapsed: elapsed}
	seen := map[string]bool{}
	for _, w := range logs {
		all = append(all, w.latencies...)
		r.Errors += w.errors
		for _, s := range w.samples {
			if !seen[s] && len(r.ErrorSamples) < 5 {
				seen[s] = true
				r.ErrorSamples = append(r.ErrorSamples, s)
			}
		}
	}
	r.OK = len(all)
	if elapsed > 0 {
		r.Rate = float64(r.OK) / elapsed.Seconds()
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r.P50, r.P99 = percentile(all, 0.50), percentile(all, 0.99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	return r
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// errRepeated reports a refresh token handed out twice: for a rotating
// issuer a rotation that did not happen or a second branch of a family.
var errRepeated = errors.New("repeated refresh token")

// RunRefresh has every client refresh its own chain back to back for d.
// Each answer is checked: a non-200 (a reuse complaint included), a missing
// token, or a refresh token seen before in any chain is an error. The
// chains are updated in place, so a later phase can use the newest access
// tokens.
func RunRefresh(ctx context.Context, c *http.Client, kind Kind, tokenURL string, chains []Chain, d time.Duration) Result {
	logs := make([]*workerLog, len(chains))
	issued := make([]map[string]bool, len(chains))
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range chains {
		logs[i] = &workerLog{latencies: make([]time.Duration, 0, 4096)}
		issued[i] = map[string]bool{chains[i].Refresh: true}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w, ch := logs[i], &chains[i]
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				tok, err := refreshOnce(ctx, c, kind, tokenURL, ch.Refresh)
				lat := time.Since(t0)
				switch {
				case err != nil:
					w.fail(err)
					pause(ctx)
					continue
				case tok.RefreshToken == "" || tok.AccessToken == "" || tok.IDToken == "":
					w.fail(fmt.Errorf("answer lacks a token (id %t, access %t, refresh %t)", tok.IDToken != "", tok.AccessToken != "", tok.RefreshToken != ""))
					continue
				case issued[i][tok.RefreshToken]:
					w.fail(errRepeated)
					continue
				}
				issued[i][tok.RefreshToken] = true
				ch.Refresh, ch.Access = tok.RefreshToken, tok.AccessToken
				w.latencies = append(w.latencies, lat)
			}
		}(i)
	}
	wg.Wait()
	res := summarise(logs, time.Since(start))
	// A token in two chains is a second branch as much as a repeat in one.
	all := map[string]bool{}
	for _, m := range issued {
		for t := range m {
			if all[t] {
				res.Errors++
				if len(res.ErrorSamples) < 5 {
					res.ErrorSamples = append(res.ErrorSamples, errRepeated.Error()+" across chains")
				}
			}
			all[t] = true
		}
	}
	return res
}

// RunValidate has workers ask POST /internal/codex-auth/validate about the
// chains' access tokens for d (one worker per chain). Anything but 200 with
// the expected user id is an error.
func RunValidate(ctx context.Context, c *http.Client, base, secret, wantUser string, chains []Chain, d time.Duration) Result {
	u := strings.TrimRight(base, "/") + "/internal/codex-auth/validate"
	header := http.Header{"X-Internal-Secret": {secret}}
	logs := make([]*workerLog, len(chains))
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range chains {
		logs[i] = &workerLog{latencies: make([]time.Duration, 0, 8192)}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := logs[i]
			body := map[string]string{"scheme": "bearer", "token": chains[i].Access}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				var out struct {
					UserID string `json:"user_id"`
				}
				t0 := time.Now()
				_, err := postJSON(ctx, c, u, body, header, &out)
				lat := time.Since(t0)
				if err == nil && wantUser != "" && out.UserID != wantUser {
					err = fmt.Errorf("validate answered user %q, want %q", out.UserID, wantUser)
				}
				if err != nil {
					w.fail(err)
					pause(ctx)
					continue
				}
				w.latencies = append(w.latencies, lat)
			}
		}(i)
	}
	wg.Wait()
	return summarise(logs, time.Since(start))
}

// pause keeps a failing worker from spinning: errors are counted, not
// hammered.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Millisecond):
	}
}
