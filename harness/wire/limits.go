package wire

import (
	"fmt"
	"net/http"
	"time"
)

// What the harness accepts from an issuer it does not control. A deployment
// under test may be broken or hostile: every answer is read within these
// bounds, and an answer beyond them is reported as such, never parsed.
const (
	// MaxResponseBody bounds a response body. An answer codex could use is a
	// few KiB; a JWKS of a thousand RSA keys is under 500 KiB.
	MaxResponseBody = 1 << 20
	// MaxResponseHeader bounds the status line and headers of an answer.
	MaxResponseHeader = 1 << 20
	// DefaultRequestTimeout bounds one request, headers and body: codex's own
	// requests time out too.
	DefaultRequestTimeout = 15 * time.Second
)

// ErrBodyTooLarge reports an answer beyond MaxResponseBody (errors.Is).
var ErrBodyTooLarge = fmt.Errorf("response body exceeds %d bytes", MaxResponseBody)

// NewTransport is the HTTP transport of every harness client: the default
// one (proxy settings, dial and TLS handshake timeouts, connection reuse) with
// a bound on response headers — an issuer that sends headers without end gets
// an error, not the harness's memory.
func NewTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxResponseHeaderBytes = MaxResponseHeader
	tr.DisableCompression = true // the Dialect asks for codings, as codex does
	return tr
}
