package issuer

import (
	"crypto/subtle"
	"net/http"

	"github.com/codexauth/codexauth/issuer/oauth"
)

// handleValidate lets a gateway ask whether a bearer token is live. It is
// only mounted when an internal secret is configured (fail closed).
func (s *Server) handleValidate(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Internal-Secret")), []byte(s.cfg.InternalSecret)) != 1 {
		oauth.Write(w, oauth.New(http.StatusUnauthorized, "invalid_secret", "X-Internal-Secret is missing or wrong"))
		return
	}
	oauth.Write(w, oauth.New(http.StatusNotImplemented, "not_implemented", "validation is not implemented yet"))
}
