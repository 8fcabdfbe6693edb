package main_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealth: `codexauth health` (the image's HEALTHCHECK) exits 0 when
// /healthz answers 200 and 1 when it answers otherwise or nobody listens.
func TestHealth(t *testing.T) {
	url := serve(t)
	if code, out := runCLI(t, "health", "--url", url+"/healthz"); code != 0 || !strings.HasPrefix(out, "ok ") {
		t.Fatalf("healthy issuer: exit %d\n%s", code, out)
	}
	addr := strings.TrimPrefix(url, "http://")
	if code, out := runCLI(t, "health", "--addr", addr); code != 0 {
		t.Fatalf("--addr %s: exit %d\n%s", addr, code, out)
	}
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "store unreachable", http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	if code, out := runCLI(t, "health", "--url", sick.URL+"/healthz"); code != 1 || !strings.Contains(out, "503") {
		t.Fatalf("unhealthy issuer: exit %d\n%s", code, out)
	}
	sick.Close()
	if code, out := runCLI(t, "health", "--url", sick.URL+"/healthz"); code != 1 {
		t.Fatalf("nobody listening: exit %d\n%s", code, out)
	}
	if code, out := runCLI(t, "health", "--addr", "0.0.0.0:0"); code != 2 {
		t.Fatalf("port 0: exit %d, want 2\n%s", code, out)
	}
}
