package foreignissuer

import (
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Grant types (RFC 6749 §4.1.3, §6; RFC 8693 §2.1) and token lifetimes.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	idTokenType            = "urn:ietf:params:oauth:token-type:id_token"

	accessTTL  = time.Hour
	refreshTTL = 30 * 24 * time.Hour
	codeTTL    = 10 * time.Minute
	// accessAudience tells access tokens from id_tokens (whose aud is the client).
	accessAudience = "https://api.openai.com/v1"
)

// ---- the token endpoint

// tokenEndpoint serves the grants in allowed (RFC 6749 §3.2): the code
// exchange (form, §3.4), codex's refresh (JSON or form, §6.3) and the API
// key exchange (form, §3.6). Bad input is a 4xx, never a 5xx.
func (iss *Issuer) tokenEndpoint(allowed ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, isJSON, e := readParams(r)
		if e == nil && isJSON && iss.opts.RefreshFormOnlyOneCode {
			e = errorf(http.StatusUnsupportedMediaType, "invalid_request", "send application/x-www-form-urlencoded")
		}
		if e != nil {
			iss.fail(w, e)
			return
		}
		grant := p["grant_type"]
		var answer map[string]any
		switch {
		case grant == "":
			e = errorf(400, "invalid_request", "grant_type is required")
		case !slices.Contains(allowed, grant):
			e = errorf(400, "unsupported_grant_type", "grant_type %q is not supported here", grant)
		case grant == grantAuthorizationCode:
			answer, e = iss.exchangeCode(p)
		case grant == grantRefreshToken:
			answer, e = iss.refreshGrant(p)
		case grant == grantTokenExchange:
			answer, e = iss.exchangeAPIKey(p)
		}
		if e != nil {
			iss.fail(w, e)
			return
		}
		iss.writeJSON(w, 200, answer)
	}
}

// readParams reads a form body (RFC 6749 §4.1.3) or a JSON object of
// strings (codex's refresh and revoke bodies, §6.3, §7).
func readParams(r *http.Request) (map[string]string, bool, *apiError) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	p := map[string]string{}
	switch mt {
	case "application/json":
		var raw map[string]any
		if err := readJSON(r, &raw); err != nil || raw == nil {
			return nil, true, errorf(400, "invalid_request", "the body is not a JSON object")
		}
		for k, v := range raw {
			s, ok := v.(string)
			if !ok && v != nil {
				return nil, true, errorf(400, "invalid_request", "%s must be a string", k)
			}
			p[k] = s
		}
		return p, true, nil
	case "application/x-www-form-urlencoded":
		r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			return nil, false, errorf(400, "invalid_request", "the form body cannot be parsed")
		}
		for k, vs := range r.PostForm {
			if len(vs) != 1 {
				return nil, false, errorf(400, "invalid_request", "%s is repeated", k) // RFC 6749 §3.2
			}
			p[k] = vs[0]
		}
		return p, false, nil
	}
	return nil, false, errorf(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded or application/json")
}

// exchangeCode redeems an authorization code (RFC 6749 §4.1.3, RFC 7636
// §4.6): single use, bound to client, redirect_uri and the S256 challenge.
// A second redemption revokes what the first one issued (RFC 6749 §4.1.2).
func (iss *Issuer) exchangeCode(p map[string]string) (map[string]any, *apiError) {
	code, redirect, verifier := p["code"], p["redirect_uri"], p["code_verifier"]
	if code == "" || redirect == "" || verifier == "" {
		return nil, errorf(400, "invalid_request", "code, redirect_uri and code_verifier are required")
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	now := iss.now()
	c := iss.codes[digest(code)]
	switch {
	case c == nil:
		return nil, errorf(400, "invalid_grant", "unknown authorization code")
	case c.used:
		if c.family != nil {
			c.family.revoked = true
		}
		return nil, errorf(400, "invalid_grant", "the authorization code was already used")
	}
	c.used = true
	switch {
	case !now.Before(c.expires):
		return nil, errorf(400, "invalid_grant", "the authorization code expired")
	case p["client_id"] != "" && p["client_id"] != c.clientID:
		return nil, errorf(400, "invalid_grant", "the code was issued to another client")
	case redirect != c.redirectURI:
		return nil, errorf(400, "invalid_grant", "redirect_uri does not match the authorization request")
	case !equalSecret(s256(verifier), c.challenge):
		return nil, errorf(400, "invalid_grant", "code_verifier does not match the code_challenge")
	}
	fam := &family{user: c.user, clientID: c.clientID}
	answer, _, err := iss.issue(fam, now, iss.opts.SameSecondTokens)
	if err != nil {
		// The code is spent; a store error surfaces as a server error.
		return nil, errorf(500, "server_error", "%v", err)
	}
	c.family = fam
	return answer, nil
}

// refreshGrant rotates a refresh token (RFC 6749 §6; contract §6.5 codes):
// unknown → 401 invalid_grant, revoked family → refresh_token_invalidated,
// expired → refresh_token_expired, rotated-out after the grace window →
// refresh_token_reused and the family is revoked. Unknown fields such as
// refresh_reason are ignored.
func (iss *Issuer) refreshGrant(p map[string]string) (map[string]any, *apiError) {
	answer, e := iss.rotate(p)
	if e != nil && iss.opts.RefreshFormOnlyOneCode {
		e = errorf(401, "refresh_token_expired", "the refresh token expired")
	}
	return answer, e
}

func (iss *Issuer) rotate(p map[string]string) (map[string]any, *apiError) {
	token := p["refresh_token"]
	if token == "" {
		return nil, errorf(400, "invalid_request", "refresh_token is required")
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	now := iss.now()
	rec := iss.refresh[digest(token)]
	switch {
	case rec == nil:
		return nil, errorf(401, "invalid_grant", "unknown refresh token")
	case p["client_id"] != "" && p["client_id"] != rec.family.clientID:
		return nil, errorf(401, "invalid_grant", "the refresh token was issued to another client")
	case rec.family.revoked:
		return nil, errorf(401, "refresh_token_invalidated", "the refresh token was revoked")
	case !now.Before(rec.expires):
		return nil, errorf(401, "refresh_token_expired", "the refresh token expired")
	case rec.child != nil:
		graceOpen := now.Before(rec.rotatedAt.Add(iss.opts.GraceWindow)) && rec.child.child == nil
		if plain, ok := unseal(token, rec.sealedAnswer); graceOpen && ok {
			var answer map[string]any
			if json.Unmarshal(plain, &answer) == nil {
				return answer, nil // the same successor, never a second branch
			}
		}
		rec.family.revoked, rec.sealedAnswer = true, nil
		return nil, errorf(401, "refresh_token_reused", "the refresh token was already used; the session is revoked")
	}
	answer, child, err := iss.issue(rec.family, now, false)
	if err != nil {
		return nil, errorf(500, "server_error", "%v", err)
	}
	rec.child, rec.rotatedAt = child, now
	if iss.opts.GraceWindow > 0 {
		plain, _ := json.Marshal(answer)
		rec.sealedAnswer = seal(token, plain)
	}
	return answer, nil
}

// exchangeAPIKey is the id_token → API key exchange (RFC 8693; contract §3.6).
func (iss *Issuer) exchangeAPIKey(p map[string]string) (map[string]any, *apiError) {
	if p["requested_token"] != "openai-api-key" || p["subject_token_type"] != idTokenType || p["subject_token"] == "" {
		return nil, errorf(400, "invalid_request", "expected requested_token=openai-api-key and an id_token subject_token")
	}
	clientID := p["client_id"]
	if clientID == "" {
		clientID = CodexClientID
	}
	if _, err := iss.verify(p["subject_token"], clientID); err != nil {
		return nil, errorf(400, "invalid_grant", "subject_token is not a live id_token of this issuer for this client")
	}
	return map[string]any{"access_token": "sk-fi-" + randomID(24), "issued_token_type": "openai-api-key", "token_type": "Bearer"}, nil
}

// ---- revocation

// revoke is RFC 7009 (JSON as codex sends it, §7, or form): revoking a
// refresh token revokes its family and the family's access tokens;
// revoking an access token revokes that token. Unknown tokens: 200.
func (iss *Issuer) revoke(w http.ResponseWriter, r *http.Request) {
	p, _, e := readParams(r)
	if e == nil && p["token"] == "" {
		e = errorf(400, "invalid_request", "token is required")
	}
	if e != nil {
		iss.fail(w, e)
		return
	}
	token := p["token"]
	iss.mu.Lock()
	if rec := iss.refresh[digest(token)]; rec != nil {
		rec.family.revoked = true
	} else if strings.Count(token, ".") == 2 {
		if c, err := iss.verify(token, accessAudience); err == nil && iss.access[c.ID] != nil {
			iss.access[c.ID].revoked = true
		}
	}
	iss.mu.Unlock()
	iss.writeJSON(w, 200, map[string]any{})
}
