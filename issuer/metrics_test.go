package issuer_test

import (
	"bytes"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// /metrics is valid Prometheus text exposition with the issuer's metric
// names, types and labels, and counts what happened.
func TestMetricsExposition(t *testing.T) {
	e := start(t, nil)
	rt := e.browserLogin("alice").str("refresh_token")
	if r := e.refresh(rt); r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	e.do("GET", "/no/such/page", "", "")
	e.srv.SetOutage(true)
	wantError(t, e.refresh(rt), 503, "temporarily_unavailable")
	e.srv.SetOutage(false)

	r := e.do("GET", "/metrics", "", "")
	if r.status != 200 {
		t.Fatalf("/metrics: %d %s", r.status, r.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text format: %v\n%s", err, r.body)
	}
	value := func(name string, typ dto.MetricType, labels map[string]string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Fatalf("/metrics has no %s", name)
		}
		if f.GetType() != typ || f.GetHelp() == "" {
			t.Fatalf("%s is a %s with help %q, want a %s with help", name, f.GetType(), f.GetHelp(), typ)
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			if typ == dto.MetricType_GAUGE {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
		t.Fatalf("%s has no series with labels %v", name, labels)
		return 0
	}
	counter := dto.MetricType_COUNTER
	if v := value("codexauth_tokens_issued_total", counter, nil); v != 2 {
		t.Errorf("codexauth_tokens_issued_total = %v, want 2 (login and refresh)", v)
	}
	if v := value("codexauth_refresh_total", counter, map[string]string{"outcome": "rotated"}); v != 1 {
		t.Errorf(`codexauth_refresh_total{outcome="rotated"} = %v, want 1`, v)
	}
	if v := value("codexauth_authorization_codes_total", counter, nil); v != 1 {
		t.Errorf("codexauth_authorization_codes_total = %v, want 1", v)
	}
	if v := value("codexauth_store_errors_total", counter, map[string]string{"op": "rotate refresh token"}); v != 1 {
		t.Errorf(`codexauth_store_errors_total{op="rotate refresh token"} = %v, want 1`, v)
	}
	if v := value("codexauth_token_errors_total", counter, map[string]string{"reason": "temporarily_unavailable"}); v != 1 {
		t.Errorf(`codexauth_token_errors_total{reason="temporarily_unavailable"} = %v, want 1`, v)
	}
	if v := value("codexauth_http_requests_total", counter, map[string]string{"route": "/oauth/token", "code": "200"}); v != 2 {
		t.Errorf(`codexauth_http_requests_total{route="/oauth/token",code="200"} = %v, want 2`, v)
	}
	if v := value("codexauth_http_requests_total", counter, map[string]string{"route": "unmatched", "code": "404"}); v != 1 {
		t.Errorf(`codexauth_http_requests_total{route="unmatched",code="404"} = %v, want 1`, v)
	}
	value("codexauth_http_request_seconds_total", counter, map[string]string{"route": "/oauth/token"})
	if v := value("codexauth_faults_enabled", dto.MetricType_GAUGE, nil); v != 0 {
		t.Errorf("codexauth_faults_enabled = %v, want 0", v)
	}
	if v := value("codexauth_clock_offset_seconds", dto.MetricType_GAUGE, nil); v != 0 {
		t.Errorf("codexauth_clock_offset_seconds = %v, want 0", v)
	}
}
