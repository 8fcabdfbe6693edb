// Package oauth holds the issuer's typed protocol errors and how they are
// written on the wire (RFC 6749 §5.2 shape: {"error","error_description"}).
package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is a protocol error: an HTTP status, an error code a client can act
// on, and a description for humans. Cause is internal: logged, never sent.
type Error struct {
	Status      int
	Code        string
	Description string
	Cause       error
	// RetryAfter, in seconds, for transient errors.
	RetryAfter int
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Description, e.Cause)
	}
	return e.Code + ": " + e.Description
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Cause }

// New builds an error.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// Standard codes (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 8628 §3.5) and the
// refresh codes codex maps to permanent failures (contract §6.5).
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeInvalidGrant           = "invalid_grant"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeUnsupportedTokenType   = "unsupported_token_type"
	CodeInvalidTarget          = "invalid_target"
	CodeAccessDenied           = "access_denied"
	CodeExpiredToken           = "expired_token"
	CodeAuthorizationPending   = "authorization_pending"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	CodeServerError            = "server_error"
	CodeRefreshTokenExpired    = "refresh_token_expired"
	CodeRefreshTokenReused     = "refresh_token_reused"
	CodeRefreshTokenRevoked    = "refresh_token_invalidated"
	CodeNotFound               = "not_found"
	CodeMethodNotAllowed       = "method_not_allowed"
	CodeUnauthorized           = "unauthorized"
)

// InvalidRequest is 400 invalid_request.
func InvalidRequest(format string, args ...any) *Error {
	return New(http.StatusBadRequest, CodeInvalidRequest, format, args...)
}

// InvalidGrant is 400 invalid_grant.
func InvalidGrant(format string, args ...any) *Error {
	return New(http.StatusBadRequest, CodeInvalidGrant, format, args...)
}

// InvalidClient is 401 invalid_client.
func InvalidClient(format string, args ...any) *Error {
	return New(http.StatusUnauthorized, CodeInvalidClient, format, args...)
}

// Unavailable is 503 temporarily_unavailable: what every store outage
// becomes, so codex treats it as transient and keeps its tokens.
func Unavailable(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable,
		Description: "the issuer cannot reach its store; retry shortly", Cause: cause, RetryAfter: 1}
}

// Body is the JSON error body.
type Body struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// As converts any error to a protocol error: protocol errors pass through,
// anything else is an outage (transient), never a permanent token error.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Unavailable(err)
}

// Write sends err as a JSON error response.
func Write(w http.ResponseWriter, err error) {
	e := As(err)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized && e.Code == CodeInvalidClient {
		h.Set("WWW-Authenticate", `Basic realm="codexauth"`)
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(Body{Error: e.Code, Description: e.Description})
}
