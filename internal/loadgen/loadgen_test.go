package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/codexauth/codexauth/issuer/issuertest"
)

// TestRefreshAndValidateAgainstTheIssuer: signed-in clients rotate their
// chains with no error, every chain moved on, and the newest access tokens
// validate for the signed-in user.
func TestRefreshAndValidateAgainstTheIssuer(t *testing.T) {
	// The reference issuer in process, in the mode bench.sh starts it
	// (auto-approve, validate endpoint on).
	iss := issuertest.New(t, issuertest.WithAutoApprove("alice"))
	base, secret := iss.URL, iss.InternalSecret
	ctx := context.Background()
	c := NewHTTPClient(4)
	chains, err := Prepare(ctx, c, Codexauth, base, 4)
	if err != nil {
		t.Fatal(err)
	}
	first := append([]Chain(nil), chains...)
	res := RunRefresh(ctx, c, Codexauth, base+"/oauth/token", chains, 300*time.Millisecond)
	if res.Errors != 0 || res.OK == 0 {
		t.Fatalf("refresh: %d ok, %d errors %v", res.OK, res.Errors, res.ErrorSamples)
	}
	for i := range chains {
		if chains[i].Refresh == first[i].Refresh || chains[i].Access == first[i].Access {
			t.Fatalf("chain %d did not move on", i)
		}
	}
	v := RunValidate(ctx, c, base, secret, "alice", chains, 200*time.Millisecond)
	if v.Errors != 0 || v.OK == 0 {
		t.Fatalf("validate: %d ok, %d errors %v", v.OK, v.Errors, v.ErrorSamples)
	}
	// The wrong user, or a reused token, must show up as errors.
	if v := RunValidate(ctx, c, base, secret, "bob", chains[:1], 50*time.Millisecond); v.Errors == 0 || v.OK != 0 {
		t.Fatalf("validate for the wrong user: %d ok, %d errors", v.OK, v.Errors)
	}
	stale := []Chain{first[0]}
	if r := RunRefresh(ctx, c, Codexauth, base+"/oauth/token", stale, 50*time.Millisecond); r.Errors == 0 || r.OK != 0 ||
		!strings.Contains(strings.Join(r.ErrorSamples, " "), "refresh_token_reused") {
		t.Fatalf("a rotated-out token must be an error: %+v", r)
	}
}

// TestRefreshCountsRepeatedTokens: an issuer that hands out a refresh token
// twice (no rotation) is caught even though it answers 200.
func TestRefreshCountsRepeatedTokens(t *testing.T) {
	var n atomic.Int64
	for _, tc := range []struct {
		name    string
		refresh func() string
		wantErr bool
	}{
		{"fresh tokens", func() string { return fmt.Sprint("rt-", n.Add(1)) }, false},
		{"same token", func() string { return "rt-static" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = json.NewEncoder(w).Encode(map[string]string{"id_token": "i", "access_token": "a", "refresh_token": tc.refresh()})
			}))
			defer hs.Close()
			chains := []Chain{{Refresh: "start"}}
			res := RunRefresh(context.Background(), NewHTTPClient(1), MockServer, hs.URL, chains, 100*time.Millisecond)
			if got := res.Errors > 0; got != tc.wantErr {
				t.Fatalf("errors %d (%v), want errors: %v", res.Errors, res.ErrorSamples, tc.wantErr)
			}
		})
	}
}

func TestPercentileAndReport(t *testing.T) {
	sorted := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(sorted, 0.5); p != 5 {
		t.Fatalf("p50 = %d", p)
	}
	if p := percentile(sorted, 0.99); p != 10 {
		t.Fatalf("p99 = %d", p)
	}
	sign, err := ParseSignBench(strings.NewReader("goos: linux\nBenchmarkRS256Sign-2   \t 1000\t 800000 ns/op\nBenchmarkRS256SignParallel-2 \t 2000\t 400000 ns/op\nPASS\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sign.Serial != 800*time.Microsecond || sign.Ceiling() != 1250 {
		t.Fatalf("sign %+v ceiling %v", sign, sign.Ceiling())
	}
	runs := []Run{
		{Label: "mock", Refresh: Result{Rate: 1000, P50: 10 * time.Millisecond, P99: 20 * time.Millisecond}},
		{Label: "codexauth memory", Refresh: Result{Rate: 1100, P50: 10 * time.Millisecond, P99: 20 * time.Millisecond}},
		{Label: "codexauth memory", Refresh: Result{Rate: 900, P50: 12 * time.Millisecond, P99: 24 * time.Millisecond}},
		{Label: "codexauth sqlite", Families: 10000, Refresh: Result{Rate: 900, P50: 10 * time.Millisecond}},
		{Label: "codexauth sqlite", Families: 1000000, Refresh: Result{Rate: 850, P50: 11 * time.Millisecond}, Memory: Memory{PeakKiB: 51200}},
	}
	var b strings.Builder
	WriteReport(&b, runs, sign, "mock")
	out := b.String()
	for _, want := range []string{
		"| codexauth memory | 2 | 1000 (900–1100) | 11.0 ms | 22.0 ms | 2.0 | 0 | 1.00 | 0.80 | – |",
		"| codexauth sqlite | 1000000 | 1 | 850 | 11.0 ms |",
		"| 1.10 | – | 50 MiB |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// signingFixture is what the issuer signs per token: an
// RSA-2048 key and a header.payload of an access token's size.
func signingFixture(b *testing.B) (*rsa.PrivateKey, string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	return key, strings.Repeat("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", 24)
}

// BenchmarkRS256Sign is one RS256 signature (golang-jwt, as the issuer
// signs) on one core: scripts/bench.sh reports it with the refresh rates.
func BenchmarkRS256Sign(b *testing.B) {
	key, input := signingFixture(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := jwt.SigningMethodRS256.Sign(input, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRS256SignParallel is the same with every core signing: its
// ns/op is the machine's signing throughput, from which bench.sh derives
// the two-signature refresh ceiling.
func BenchmarkRS256SignParallel(b *testing.B) {
	key, input := signingFixture(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := jwt.SigningMethodRS256.Sign(input, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
