package specs_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/internal/builtin"
	"github.com/codexauth/codexauth/specs"
)

// TestConformance runs the suite under `go test ./specs` (or ginkgo). The
// target comes from the environment; by default the built-in issuer:
//
//	CODEXAUTH_ISSUER=https://issuer.example CODEXAUTH_ADMIN_TOKEN=… go test ./specs
//	go test ./specs -ginkgo.label-filter='profile:core'
func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	cfg := harness.Config{
		Builtin:        builtin.Start,
		Issuer:         os.Getenv("CODEXAUTH_ISSUER"),
		AdminToken:     os.Getenv("CODEXAUTH_ADMIN_TOKEN"),
		Approver:       os.Getenv("CODEXAUTH_APPROVER"),
		User:           os.Getenv("CODEXAUTH_USER"),
		Password:       os.Getenv("CODEXAUTH_PASSWORD"),
		ClientID:       os.Getenv("CODEXAUTH_CLIENT_ID"),
		ValidateURL:    os.Getenv("CODEXAUTH_VALIDATE_URL"),
		InternalSecret: os.Getenv("CODEXAUTH_INTERNAL_SECRET"),
		CodexBin:       os.Getenv("CODEXAUTH_CODEX_BIN"),
		// The built-in issuer runs with a grace window so that every reuse
		// spec runs (the clock moves past the window where a spec needs it).
		BuiltinReuseGrace: 10 * time.Second,
	}
	if cmd := os.Getenv("CODEXAUTH_APPROVER_COMMAND"); cmd != "" {
		cfg.ApproverCommand = []string{"sh", "-c", cmd}
	}
	if d, err := time.ParseDuration(os.Getenv("CODEXAUTH_MAX_WAIT")); err == nil {
		cfg.MaxWait = d
	}
	specs.Configure(cfg)
	RunSpecs(t, "codexauth conformance")
}
