package issuer

import (
	"fmt"
	"net/http"
	"sort"

	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// metrics is a minimal Prometheus text-format registry: counters with at
// most one label, enough for request and outcome counts without a dependency.
type metrics struct {
	mu       sync.Mutex
	counters map[string]map[string]float64
}

func newMetrics() *metrics { return &metrics{counters: map[string]map[string]float64{}} }

func (m *metrics) add(name, label string, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counters[name]
	if c == nil {
		c = map[string]float64{}
		m.counters[name] = c
	}
	c[label] += v
}

func (m *metrics) inc(name, label string) { m.add(name, label, 1) }

func (m *metrics) write(w http.ResponseWriter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.counters))
	for n := range m.counters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "# TYPE %s counter\n", n)
		labels := make([]string, 0, len(m.counters[n]))
		for l := range m.counters[n] {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		for _, l := range labels {
			if l == "" {
				fmt.Fprintf(w, "%s %g\n", n, m.counters[n][l])
			} else {
				fmt.Fprintf(w, "%s{%s} %g\n", n, l, m.counters[n][l])
			}
		}
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// instrument counts requests by route and status and logs them at debug
// level (never bodies or query strings: they carry codes and tokens).
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := r.URL.Path
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.metrics.inc("codexauth_http_requests_total", fmt.Sprintf(`route=%q,code="%d"`, route, rec.status))
		s.metrics.add("codexauth_http_request_seconds_total", fmt.Sprintf(`route=%q`, route), time.Since(start).Seconds())
		s.log.Debug("request", "method", r.Method, "route", route, "status", rec.status, "duration", time.Since(start))
	})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ping(r.Context()); err != nil || !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unready", "reason": "store unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.metrics.write(w)
	fmt.Fprintf(w, "# TYPE codexauth_clock_offset_seconds gauge\ncodexauth_clock_offset_seconds %g\n", s.clockOffset().Seconds())
	fmt.Fprintf(w, "# TYPE codexauth_faults_enabled gauge\ncodexauth_faults_enabled %d\n", len(s.faults.Enabled()))
}
