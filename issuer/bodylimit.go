package issuer

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/codexauth/codexauth/issuer/oauth"
)

// Request bodies. Every body is capped at maxBody; an oversize one is answered
// 413 only after the issuer has read and discarded it (up to maxDrain bytes).
// Closing a connection while the client is still sending makes the kernel
// answer the client's next segment with a reset, and a reset destroys the
// response in flight: RFC 9112 §9.6 asks a server that closes early to keep
// reading until the client has seen its answer. Draining a bounded amount is
// what lets an ordinary client (one that writes its whole body before reading)
// see the 413 instead of "connection reset by peer".
const (
	// maxDrain is how much of an oversize body is read and thrown away before
	// answering; beyond it the connection is closed after the answer.
	maxDrain = 64 << 20
	// drainTimeout bounds the time spent draining, whatever the server's
	// ReadTimeout: a slow sender of a huge body gets its 413 and a close.
	drainTimeout = 10 * time.Second
)

// errBodyTooLarge is what reading past maxBody returns; it is an
// *http.MaxBytesError so that errors.As works as for http.MaxBytesReader.
var errBodyTooLarge error = &http.MaxBytesError{Limit: maxBody}

// cappedBody returns errBodyTooLarge once more than maxBody bytes were read.
// Unlike http.MaxBytesReader it does not make the server close the connection
// at once: limitBodies drains the rest first.
type cappedBody struct {
	io.ReadCloser
	left int64
	// over: the body is larger than maxBody; eof: it was read to its end;
	// failed: reading it failed (a read timeout, a broken chunked encoding).
	over, eof, failed bool
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.over {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		n, b.left, b.over = int(b.left), 0, true
		return n, errBodyTooLarge
	}
	b.left -= int64(n)
	b.eof = errors.Is(err, io.EOF)
	b.failed = err != nil && !b.eof
	return n, err
}

// limitBodies caps every request body at maxBody. A body declared larger
// (Content-Length) is answered 413 before any handler runs; one that turns
// out larger while a handler reads it makes the handler answer 413 (see
// readBody). Either way, what the client is still sending is drained, within
// maxDrain and drainTimeout, before the answer goes out.
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			if r.Header.Get("Expect") == "100-continue" {
				// The client waits for our go-ahead: it sends nothing more
				// and reads the 413 at once.
				w.Header().Set("Connection", "close")
			} else if !drain(w, r.Body) {
				w.Header().Set("Connection", "close")
			}
			oauth.Write(w, tooLarge())
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		capped := &cappedBody{ReadCloser: r.Body, left: maxBody}
		r.Body = capped
		next.ServeHTTP(w, r)
		if !capped.eof && !capped.failed {
			// Whatever the handler left unread, oversize or not, so that
			// the client reads our answer rather than a reset. (A body that
			// failed to arrive in time is not waited for again.)
			drain(w, capped.ReadCloser)
		}
	})
}

// drain reads and discards body within maxDrain bytes and drainTimeout, and
// reports whether it reached the end.
func drain(w http.ResponseWriter, body io.Reader) bool {
	rc := http.NewResponseController(w)
	deadlineSet := rc.SetReadDeadline(time.Now().Add(drainTimeout)) == nil
	n, err := io.CopyN(io.Discard, body, maxDrain)
	ended := n < maxDrain && errors.Is(err, io.EOF)
	if deadlineSet {
		if ended {
			_ = rc.SetReadDeadline(time.Time{}) // the server sets its own for the next request
		} else {
			// Read no more of it: the server closes the connection after
			// the answer instead of discarding the rest without a deadline.
			_ = rc.SetReadDeadline(time.Now())
		}
	}
	return ended
}

func tooLarge() *oauth.Error {
	return oauth.New(http.StatusRequestEntityTooLarge, oauth.CodeInvalidRequest, "request body exceeds %d bytes", maxBody)
}

// readBody reads a whole request body: 413 past maxBody, 408 when the client
// does not send it within the server's read timeout (RFC 9110 §15.5.9), 400
// for any other read failure.
func readBody(r *http.Request) ([]byte, *oauth.Error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || err == nil && len(body) > maxBody:
		return nil, tooLarge()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, oauth.New(http.StatusRequestTimeout, oauth.CodeInvalidRequest, "the request body did not arrive in time")
	case err != nil:
		return nil, oauth.InvalidRequest("could not read the request body")
	}
	return body, nil
}
