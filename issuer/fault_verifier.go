package issuer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/codexauth/codexauth/issuer/faults"
)

// verifierRouteFaults are the gateway validate endpoint's bearer-token
// verification mistakes (RFC 8725): each answers, in the handler's stead,
// "valid" for a token the real verifier refuses.
var verifierRouteFaults = map[string]routeFault{
	faults.ValidateAlgNone: {routes: []string{routeValidate}, before: acceptBearerIf(func(_ *Server, x *exchange, alg string) bool {
		return strings.EqualFold(alg, "none")
	})},
	faults.ValidateHS256Confusion: {routes: []string{routeValidate}, before: acceptBearerIf(func(_ *Server, x *exchange, alg string) bool {
		return alg == "HS256"
	})},
	faults.ValidateSignatureUnchecked: {routes: []string{routeValidate}, before: acceptBearerIf(func(s *Server, x *exchange, alg string) bool {
		_, err := s.verifyOwnJWT(x.r.Context(), x.fields["token"])
		return alg == "RS256" && errors.Is(err, jwt.ErrTokenSignatureInvalid)
	})},
	faults.ValidateExpiredAccepted: {routes: []string{routeValidate}, before: acceptBearerIf(func(s *Server, x *exchange, _ string) bool {
		_, err := s.verifyOwnJWT(x.r.Context(), x.fields["token"])
		return errors.Is(err, jwt.ErrTokenExpired)
	})},
	faults.ValidateIDTokenAccepted: {routes: []string{routeValidate}, before: acceptBearerIf(func(s *Server, x *exchange, _ string) bool {
		claims, err := s.verifyOwnJWT(x.r.Context(), x.fields["token"])
		aud, _ := claims.GetAudience()
		return err == nil && (len(aud) == 0 || aud[0] != AccessAudience)
	})},
}

// acceptBearerIf answers a bearer validation as valid, for the subject the
// token claims, when the fault's mistake applies to it.
func acceptBearerIf(mistake func(s *Server, x *exchange, alg string) bool) func(*Server, *exchange) bool {
	return func(s *Server, x *exchange) bool {
		tok := x.fields["token"]
		if x.fields["scheme"] != "bearer" || tok == "" {
			return false
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			return false
		}
		var hdr struct {
			Alg string `json:"alg"`
		}
		var claims struct {
			Sub string `json:"sub"`
		}
		hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
		pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
		if err1 != nil || err2 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(pb, &claims) != nil || claims.Sub == "" {
			return false
		}
		if !mistake(s, x, hdr.Alg) {
			return false
		}
		writeJSON(x.w, http.StatusOK, ValidateResult{UserID: claims.Sub, Scheme: "bearer"})
		return true
	}
}
