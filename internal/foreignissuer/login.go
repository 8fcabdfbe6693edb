package foreignissuer

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// authCode is an authorization code: single use, bound to its client,
// redirect_uri and S256 challenge (RFC 7636 §4.4).
type authCode struct {
	clientID, redirectURI, challenge string
	user                             user
	expires                          time.Time
	used                             bool
	family                           *family // what its redemption issued
}

// newCode records a code for u; the caller holds mu.
func (iss *Issuer) newCode(u user, clientID, redirectURI, challenge string, now time.Time) string {
	code := "ac_fi_" + randomID(32)
	iss.codes[digest(code)] = &authCode{clientID: clientID, redirectURI: redirectURI, challenge: challenge, user: u, expires: now.Add(codeTTL)}
	return code
}

// ---- device flow (contract §4), codex's own dialect, not RFC 8628

const deviceTTL = 15 * time.Minute

type deviceCode struct {
	userCode, clientID string
	expires            time.Time
	polled             bool // the first poll is answered pending
	spent              bool // the grant was handed out
}

// userCodeAlphabet has no vowels or look-alikes.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func newUserCode() string {
	b := []byte(randomID(8))
	var sb strings.Builder
	for i, c := range b {
		if i == 4 {
			sb.WriteByte('-')
		}
		sb.WriteByte(userCodeAlphabet[int(c)%len(userCodeAlphabet)])
	}
	return sb.String()
}

// deviceUserCode is E6: JSON {client_id} → device_auth_id, user_code and
// interval as a JSON string (a number makes codex fail, §4.1).
func (iss *Issuer) deviceUserCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID string `json:"client_id"`
	}
	if err := readJSON(r, &req); err != nil {
		iss.fail(w, errorf(400, "invalid_request", "expected a JSON object with a string client_id"))
		return
	}
	if req.ClientID != CodexClientID {
		iss.fail(w, errorf(400, "invalid_client", "unknown client_id"))
		return
	}
	id, code := "dev_fi_"+randomID(18), newUserCode()
	now := iss.now()
	iss.mu.Lock()
	iss.devices[id] = &deviceCode{userCode: code, clientID: req.ClientID, expires: now.Add(deviceTTL)}
	iss.mu.Unlock()
	iss.writeJSON(w, 200, map[string]any{"device_auth_id": id, "user_code": code, "interval": "1",
		"expires_at": now.Add(deviceTTL).UTC().Format(time.RFC3339)})
}

// devicePoll is E7. The first poll of each code is pending (403, what
// codex retries); at the next one alice has approved "in her browser" and
// the grant — a code with server-held PKCE (§4.3) — is handed out once.
// Unknown, mismatched, expired and spent codes get 400, so codex stops.
func (iss *Issuer) devicePoll(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DeviceAuthID string `json:"device_auth_id"`
		UserCode     string `json:"user_code"`
	}
	if err := readJSON(r, &req); err != nil {
		iss.fail(w, errorf(400, "invalid_request", "expected a JSON object with device_auth_id and user_code"))
		return
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	now := iss.now()
	d := iss.devices[req.DeviceAuthID]
	switch {
	case d == nil || !equalSecret(req.UserCode, d.userCode):
		iss.fail(w, errorf(400, "invalid_grant", "unknown device_auth_id or user_code"))
	case !now.Before(d.expires):
		iss.fail(w, errorf(400, "expired_token", "the device code expired"))
	case d.spent:
		iss.fail(w, errorf(400, "invalid_grant", "the device code was already redeemed"))
	case !d.polled:
		d.polled = true
		iss.writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]any{
			"code": "deviceauth_authorization_pending", "message": "waiting for the user to approve"}})
	default:
		d.spent = true
		verifier := randomID(64)
		challenge := s256(verifier)
		code := iss.newCode(alice, d.clientID, iss.URL+"/deviceauth/callback", challenge, now)
		iss.writeJSON(w, 200, map[string]any{"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier})
	}
}

// devicePage is the verification URL codex prints (§4.1).
func (iss *Issuer) devicePage(w http.ResponseWriter, r *http.Request) {
	msg := "Sign-in requests from codex are approved automatically on this deployment."
	if c := r.URL.Query().Get("user_code"); c != "" {
		msg = "Code " + c + " is approved automatically; return to codex."
	}
	page(w, 200, "Device sign-in", msg)
}

// ---- browser flow (contract §3)

// authorize is E1 (RFC 6749 §4.1.1, RFC 7636 §4.3). alice is signed in
// already, so a valid request redirects at once with code and state.
// An unknown client or an unregistered redirect_uri gets a 400 page and
// never a redirect (RFC 6749 §4.1.2.1); other errors go back to the
// client. Unknown parameters are ignored.
func (iss *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, k := range []string{"client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "response_type"} {
		if len(q[k]) > 1 {
			page(w, 400, "Invalid request", k+" is repeated")
			return
		}
	}
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	if clientID != CodexClientID && !iss.opts.AnyClientID {
		page(w, 400, "Unknown application", "client_id is not registered here")
		return
	}
	if !registeredRedirects[redirect] {
		page(w, 400, "Invalid redirect", "redirect_uri is not registered for this client")
		return
	}
	back := func(params url.Values) {
		if s := q.Get("state"); s != "" {
			params.Set("state", s)
		}
		w.Header().Set("Location", redirect+"?"+params.Encode())
		w.WriteHeader(http.StatusFound)
	}
	challenge := q.Get("code_challenge")
	switch {
	case q.Get("response_type") != "code":
		back(url.Values{"error": {"unsupported_response_type"}})
	case q.Get("code_challenge_method") != "S256" || !isChallenge(challenge):
		back(url.Values{"error": {"invalid_request"}, "error_description": {"PKCE with code_challenge_method=S256 is required"}})
	default:
		iss.mu.Lock()
		code := iss.newCode(alice, clientID, redirect, challenge, iss.now())
		iss.mu.Unlock()
		back(url.Values{"code": {code}})
	}
}

// isChallenge: an S256 challenge is 43 characters of base64url (RFC 7636 §4.2).
func isChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
