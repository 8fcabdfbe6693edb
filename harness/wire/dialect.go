package wire

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// PinnedVersion is the codex release the contract describes and the
// client speaks by default.
const PinnedVersion = "0.169.0"

// Dialect is what differs on the wire between the codex releases the
// suite speaks for (contract §12.1, docs/codex-versions.md). The requests
// themselves — paths, bodies, field order — are the same from 0.166.0 to
// 0.171.0; what changed is which answers codex can read.
type Dialect struct {
	// Version is the codex release spoken; it goes into User-Agent.
	Version string
	// AcceptEncoding is what codex sends on its requests to the issuer —
	// device flow, code exchange, refresh, revoke, whoami, agent identity,
	// accounts check. "" means none: such a codex reads an answer as it
	// comes, so a compressed one is unreadable to it (EXP: 0.169.0 fails
	// "expected value at line 1 column 1" on a gzip answer it did not ask
	// for).
	AcceptEncoding string
	// LoginAcceptEncoding is what codex sends on the requests it addresses
	// to auth.openai.com: the API-key token exchange and the workload
	// identity exchange.
	LoginAcceptEncoding string
}

// acceptZstdSince is the first release that asks for (and decodes) zstd and
// gzip on every request (0.170.0 was never published).
const acceptZstdSince = "0.171.0"

// DialectOf is how codex version speaks ("" is the pinned release).
// Releases before 0.166.0 and after 0.171.0 are assumed to speak as their
// nearest observed neighbour.
func DialectOf(version string) Dialect {
	if version == "" {
		version = PinnedVersion
	}
	d := Dialect{Version: version, LoginAcceptEncoding: "gzip"}
	if CompareVersions(version, acceptZstdSince) >= 0 {
		d.AcceptEncoding, d.LoginAcceptEncoding = "zstd,gzip", "zstd,gzip"
	}
	return d
}

// UserAgent is codex's User-Agent on refresh, revoke and the auth API
// (§6.3) for this release.
func (d Dialect) UserAgent() string {
	return strings.Replace(UserAgent, "/"+PinnedVersion+" ", "/"+d.Version+" ", 1)
}

// Accepts reports whether a codex that sent acceptEncoding reads an answer
// in contentEncoding.
func Accepts(acceptEncoding, contentEncoding string) bool {
	ce := strings.ToLower(strings.TrimSpace(contentEncoding))
	if ce == "" || ce == "identity" {
		return true
	}
	for _, a := range strings.Split(acceptEncoding, ",") {
		if strings.EqualFold(strings.TrimSpace(a), ce) {
			return true
		}
	}
	return false
}

// decodeBody turns an answer in a coding codex asked for into what codex
// reads; an answer in a coding it did not ask for is left as it came (codex
// fails to parse it, and so do the suite's checks).
func decodeBody(ex *Exchange, res *http.Response, acceptEncoding string) error {
	ce := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding")))
	if ce == "" || ce == "identity" {
		return nil
	}
	if !Accepts(acceptEncoding, ce) {
		ex.Unreadable = ce
		return nil
	}
	var r io.Reader
	switch ce {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(ex.Body))
		if err != nil {
			return fmt.Errorf("gzip answer: %w", err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(ex.Body))
		if err != nil {
			return fmt.Errorf("zstd answer: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		ex.Unreadable = ce
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return fmt.Errorf("%s answer: %w", ce, err)
	}
	ex.Body, ex.Decoded = b, ce
	return nil
}

// CompareVersions orders two codex versions numerically, major.minor.patch
// (a pre-release sorts before its release): -1, 0 or +1.
func CompareVersions(a, b string) int {
	pa, prea := splitVersion(a)
	pb, preb := splitVersion(b)
	for i := 0; i < 3; i++ {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case prea == preb:
		return 0
	case prea == "":
		return 1
	case preb == "":
		return -1
	case prea < preb:
		return -1
	default:
		return 1
	}
}

func splitVersion(v string) ([3]int, string) {
	var n [3]int
	core, pre, _ := strings.Cut(v, "-")
	for i, p := range strings.SplitN(core, ".", 3) {
		n[i], _ = strconv.Atoi(p)
	}
	return n, pre
}
