package wire

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// compressingIssuer answers every request with a JSON body in coding,
// whether the request asked for it or not, and records Accept-Encoding.
func compressingIssuer(t *testing.T, coding string, asked *[]string) *httptest.Server {
	body := []byte(`{"device_auth_id":"d1","user_code":"ABCD-1234","interval":"1"}`)
	var enc bytes.Buffer
	switch coding {
	case "gzip":
		w := gzip.NewWriter(&enc)
		w.Write(body)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&enc)
		w.Write(body)
		w.Close()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*asked = append(*asked, r.Header.Get("Accept-Encoding")+" | "+r.Header.Get("User-Agent"))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", coding)
		w.Write(enc.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTheClientReadsOnlyWhatTheCodexItSpeaksForAsked(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		version, coding string
		readable        bool
		asks            string
	}{
		{"", "gzip", false, ""},        // the pinned 0.169.0 asks for nothing on the device flow
		{"0.166.0", "gzip", false, ""}, // nor does 0.166.0
		{"0.171.0", "gzip", true, "zstd,gzip"},
		{"0.171.0", "zstd", true, "zstd,gzip"},
		{"0.172.3", "zstd", true, "zstd,gzip"}, // newer releases speak as the newest observed
	} {
		var asked []string
		srv := compressingIssuer(t, c.coding, &asked)
		cl := NewClient(srv.URL, "")
		cl.Dialect = DialectOf(c.version)
		d, ex := cl.RequestDeviceCode(ctx)
		if ex.Err != nil {
			t.Fatalf("%s: %v", c.version, ex.Err)
		}
		if got := d.UserCode == "ABCD-1234"; got != c.readable {
			t.Errorf("codex %q, %s answer: read %v (user code %q), want %v: %s", c.version, c.coding, got, d.UserCode, c.readable, ex)
		}
		if !c.readable && (ex.Unreadable != c.coding || !strings.Contains(ex.String(), "did not ask for")) {
			t.Errorf("codex %q: an unreadable answer is not named as such: %s", c.version, ex)
		}
		if got, _, _ := strings.Cut(asked[0], " | "); got != c.asks {
			t.Errorf("codex %q sent Accept-Encoding %q, want %q", c.version, got, c.asks)
		}
	}
}

func TestTheClientSendsTheUserAgentOfItsVersion(t *testing.T) {
	var asked []string
	srv := compressingIssuer(t, "identity", &asked)
	cl := NewClient(srv.URL, "")
	cl.Dialect = DialectOf("0.171.0")
	cl.Refresh(context.Background(), "rt", "proactive_expiry")
	if !strings.HasSuffix(asked[0], "| codex_cli_rs/0.171.0 (Debian 12.0.0; x86_64) xterm") {
		t.Errorf("refresh headers %q", asked[0])
	}
	cl.Dialect = DialectOf("")
	cl.ExchangeAPIKey(context.Background(), "id")
	if !strings.HasPrefix(asked[1], "gzip | ") {
		t.Errorf("the API-key exchange (sent to auth.openai.com by 0.169.0) asked %q, want gzip", asked[1])
	}
}
