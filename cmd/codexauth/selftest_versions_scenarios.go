package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strconv"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/oracle"
	"github.com/codexauth/codexauth/harness/registry"
)

// versionScenario is an issuer behaviour outside the fault catalogue that
// codex releases meet differently.
type versionScenario struct {
	name, flow, breaks string
	// wrap puts the behaviour in front of the built-in issuer's handler.
	wrap func(next http.Handler, publicURL string) http.Handler
}

var versionScenarios = []versionScenario{{
	name: "gzip-unasked", flow: oracle.FlowDeviceLogin,
	breaks: "every answer gzip-compressed, asked for or not (a proxy that compresses everything)",
	wrap:   gzipEverything,
}}

func scenarioNamed(name string) *versionScenario {
	for i := range versionScenarios {
		if versionScenarios[i].name == name {
			return &versionScenarios[i]
		}
	}
	return nil
}

// scenarioSuiteRun runs the profiles of a scenario's flow (core) against
// the built-in issuer behind the scenario, speaking as version.
func scenarioSuiteRun(ctx context.Context, self, tmp, version string, s versionScenario) faultResult {
	iss, err := wrappedBuiltin(s.wrap)(ctx, harness.BuiltinOptions{ReuseGrace: builtinGrace})
	if err != nil {
		return faultResult{Err: err}
	}
	defer iss.Close()
	return conformRun(ctx, self, tmp, "suite-"+version+"-"+s.name, nil, []string{string(registry.ProfileCore)},
		[]string{"--issuer", iss.URL, "--admin-token", iss.AdminToken, "--codex-version", version})
}

// gzipEverything compresses every answer with gzip, asked for or not.
func gzipEverything(next http.Handler, _ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(rec.body.Bytes())
		_ = zw.Close()
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(z.Len()))
		w.WriteHeader(rec.status)
		_, _ = w.Write(z.Bytes())
	})
}

type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) { b.status = code }

func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
