package issuer

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// userinfoPath is the UserInfo endpoint (OIDC Core §5.3), advertised as
// userinfo_endpoint in discovery.
const userinfoPath = "/oauth/userinfo"

// handleUserinfo answers GET and POST (OIDC Core §5.3.1) with the claims of
// the access token's user: sub (equal to the id_token's, §5.3.2), email,
// email_verified, name, and the user's extra id_token claims. The access
// token is a bearer token (RFC 6750 §2): in the Authorization header, or in
// a POST's form body as access_token (§2.2). It must be live: unexpired,
// known, and neither it nor its family revoked (the checks of the gateway
// validate endpoint).
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	token, berr := bearerToken(w, r)
	if berr != nil {
		writeBearerError(w, berr)
		return
	}
	res, verr := s.validateBearer(r, token)
	if verr != nil {
		if verr.Status >= 500 {
			oauth.Write(w, verr)
			return
		}
		writeBearerError(w, oauth.New(http.StatusUnauthorized, codeInvalidToken, "%s", verr.Description))
		return
	}
	u, err := s.store.GetUser(r.Context(), res.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && u.Disabled:
		writeBearerError(w, oauth.New(http.StatusUnauthorized, codeInvalidToken, "the access token's user no longer exists or is disabled"))
		return
	case err != nil:
		oauth.Write(w, s.storeErr(r, "load user", err))
		return
	}
	claims := map[string]any{}
	for k, v := range u.ExtraClaims {
		claims[k] = v
	}
	claims["sub"] = u.ID
	claims["email"] = u.Email
	claims["email_verified"] = true
	if u.Name != "" {
		claims["name"] = u.Name
	}
	writeJSON(w, http.StatusOK, claims)
}

// bearerToken reads the bearer access token of a resource request
// (RFC 6750 §2.1 header, §2.2 form body). More than one method is an
// invalid_request (§2); none is a 401 without an error code (§3.1).
func bearerToken(w http.ResponseWriter, r *http.Request) (string, *oauth.Error) {
	var found []string
	if scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) != "" {
		found = append(found, strings.TrimSpace(tok))
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method == http.MethodPost && mt == "application/x-www-form-urlencoded" {
		p, perr := readParams(w, r, encForm)
		if perr != nil {
			return "", perr
		}
		if tok := p.get("access_token"); tok != "" {
			found = append(found, tok)
		}
	}
	switch len(found) {
	case 0:
		return "", oauth.New(http.StatusUnauthorized, "", "no access token")
	case 1:
		return found[0], nil
	}
	return "", oauth.InvalidRequest("the access token was sent in more than one way (RFC 6750 §2)")
}

// writeBearerError answers as RFC 6750 §3 says: the status, a
// WWW-Authenticate: Bearer challenge with the error code (none when no token
// was sent), and the usual JSON error body.
func writeBearerError(w http.ResponseWriter, e *oauth.Error) {
	challenge := `Bearer realm="codexauth"`
	if e.Code != "" {
		challenge += fmt.Sprintf(`, error=%q, error_description=%q`, e.Code, strings.ReplaceAll(e.Description, `"`, "'"))
	}
	w.Header().Set("WWW-Authenticate", challenge)
	if e.Code == "" {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(e.Status)
		return
	}
	oauth.Write(w, e)
}
