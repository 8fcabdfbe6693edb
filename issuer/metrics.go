package issuer

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the issuer's Prometheus metrics, in a registry of its own (so
// several issuers in one process, as in tests, do not collide), exposed at
// /metrics by client_golang in the Prometheus text or OpenMetrics format.
type metrics struct {
	handler http.Handler

	httpRequests       *prometheus.CounterVec
	httpRequestSeconds *prometheus.CounterVec
	panics             prometheus.Counter
	storeErrors        *prometheus.CounterVec
	tokensIssued       prometheus.Counter
	tokenErrors        *prometheus.CounterVec
	refresh            *prometheus.CounterVec
	deviceCodes        prometheus.Counter
	authorizationCodes prometheus.Counter
	agentTasks         prometheus.Counter
	validate           *prometheus.CounterVec
}

// newMetrics registers the issuer's metrics; clockOffset and faultsEnabled
// are read at every scrape.
func newMetrics(clockOffset func() time.Duration, faultsEnabled func() int) *metrics {
	reg := prometheus.NewRegistry()
	f := registrar{reg}
	m := &metrics{
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		httpRequests: f.counterVec("codexauth_http_requests_total",
			"HTTP requests answered, by route pattern and status code.", "route", "code"),
		httpRequestSeconds: f.counterVec("codexauth_http_request_seconds_total",
			"Seconds spent answering HTTP requests, by route pattern.", "route"),
		panics: f.counter("codexauth_panics_total",
			"Handler panics turned into 500 answers (there should be none)."),
		storeErrors: f.counterVec("codexauth_store_errors_total",
			"Store failures answered 503 temporarily_unavailable, by operation.", "op"),
		tokensIssued: f.counter("codexauth_tokens_issued_total",
			"id_token and access_token pairs issued by the authorization_code and refresh_token grants."),
		tokenErrors: f.counterVec("codexauth_token_errors_total",
			"Token endpoint errors, by OAuth error code (bad_request for unreadable bodies).", "reason"),
		refresh: f.counterVec("codexauth_refresh_total",
			"Refresh-token rotation attempts, by outcome (rotated, grace-replay, reused, family-revoked, expired, unknown, wrong-client).", "outcome"),
		deviceCodes: f.counter("codexauth_device_codes_total",
			"Device codes issued (contract §4.1)."),
		authorizationCodes: f.counter("codexauth_authorization_codes_total",
			"Authorization codes issued at the authorization endpoint."),
		agentTasks: f.counter("codexauth_agent_tasks_total",
			"Agent tasks registered (contract §8.2)."),
		validate: f.counterVec("codexauth_validate_total",
			"Gateway validation answers, by result (ok or the refusal code).", "result"),
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "codexauth_clock_offset_seconds",
			Help: "How far the issuer clock was moved ahead of the wall clock (admin API)."},
			func() float64 { return clockOffset().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "codexauth_faults_enabled",
			Help: "Deliberate defects of the fault catalogue switched on (0 in production)."},
			func() float64 { return float64(faultsEnabled()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// registrar creates collectors and registers them in one registry.
type registrar struct{ reg *prometheus.Registry }

func (p registrar) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	p.reg.MustRegister(c)
	return c
}

func (p registrar) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	p.reg.MustRegister(c)
	return c
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

// Unwrap lets http.ResponseController reach the connection (the
// console's event stream flushes and extends its write deadline).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument counts requests by route and status and logs them at debug
// level (never bodies or query strings: they carry codes and tokens).
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := "unmatched" // not the path: a label per probed URL would grow without bound
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.metrics.httpRequests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		s.metrics.httpRequestSeconds.WithLabelValues(route).Add(time.Since(start).Seconds())
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
	s.metrics.handler.ServeHTTP(w, r)
}
