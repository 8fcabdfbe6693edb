package issuer

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// assertionNoncePrefix marks the one-time records of AgentAssertions.
const assertionNoncePrefix = "assertion:"

// Validate reason codes (401 unless noted).
const (
	codeBadSecret       = "invalid_secret"
	codeInvalidToken    = "invalid_token"
	codeTokenExpired    = "token_expired"
	codeTokenRevoked    = "token_revoked"
	codeAccountMismatch = "account_mismatch"
	codeStaleAssertion  = "assertion_stale"
)

// ValidateResult is the success body.
type ValidateResult struct {
	UserID    string `json:"user_id"`
	AccountID string `json:"account_id,omitempty"`
	Scheme    string `json:"scheme"`
	RuntimeID string `json:"agent_runtime_id,omitempty"`
	TaskID    string `json:"task_id,omitempty"`
}

// handleValidate lets a gateway ask whether a bearer access token or an
// AgentAssertion is good, and for whom. It is only mounted when an internal
// secret is configured (fail closed), and the secret is compared in
// constant time. Every refusal is 401 with a reason code; a store failure
// is 503, so a gateway can tell "no" from "cannot say".
func (s *Server) handleValidate(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Internal-Secret")), []byte(s.cfg.InternalSecret)) != 1 {
		oauth.Write(w, oauth.New(http.StatusUnauthorized, codeBadSecret, "X-Internal-Secret is missing or wrong"))
		return
	}
	p, perr := readParams(w, r, encJSON)
	if perr != nil {
		oauth.Write(w, perr)
		return
	}
	var res ValidateResult
	var err *oauth.Error
	switch p.get("scheme") {
	case "bearer":
		res, err = s.validateBearer(r, p.get("token"))
	case "agent_assertion":
		res, err = s.validateAssertion(r, p.get("assertion"))
	case "":
		err = oauth.InvalidRequest("missing required parameter \"scheme\" (bearer or agent_assertion)")
	default:
		err = oauth.InvalidRequest("scheme %q: use bearer or agent_assertion", p.get("scheme"))
	}
	if err == nil && p.get("account_id") != "" && p.get("account_id") != res.AccountID {
		err = oauth.New(http.StatusUnauthorized, codeAccountMismatch, "the credential belongs to another account")
	}
	if err != nil {
		s.metrics.validate.WithLabelValues(err.Code).Inc()
		oauth.Write(w, err)
		return
	}
	s.metrics.validate.WithLabelValues("ok").Inc()
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) validateBearer(r *http.Request, token string) (ValidateResult, *oauth.Error) {
	if token == "" {
		return ValidateResult{}, oauth.InvalidRequest("missing required parameter \"token\"")
	}
	claims, err := s.verifyOwnJWT(r.Context(), token)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeTokenExpired, "access token has expired")
	} else if err != nil {
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeInvalidToken, "not an access token of this issuer")
	}
	if aud, _ := claims.GetAudience(); len(aud) == 0 || aud[0] != AccessAudience {
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeInvalidToken, "not an access token (wrong audience)")
	}
	jti, _ := claims["jti"].(string)
	rec, gerr := s.store.GetAccessToken(r.Context(), jti)
	switch {
	case errors.Is(gerr, store.ErrNotFound):
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeInvalidToken, "access token is not known")
	case gerr != nil:
		return ValidateResult{}, s.storeErr(r, "get access token", gerr)
	case !rec.RevokedAt.IsZero():
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeTokenRevoked, "access token was revoked")
	}
	res := ValidateResult{UserID: rec.UserID, Scheme: "bearer"}
	if auth, ok := claims[ClaimAuth].(map[string]any); ok {
		res.AccountID, _ = auth["chatgpt_account_id"].(string)
	}
	return res, nil
}

// validateAssertion checks an AgentAssertion (§8.3): a live identity, a task
// that identity registered, a timestamp within the skew window, an Ed25519
// signature over "<runtime_id>:<task_id>:<timestamp>", and — what codex's
// own backend relies on the gateway for — that each assertion is used once.
func (s *Server) validateAssertion(r *http.Request, tok string) (ValidateResult, *oauth.Error) {
	if tok == "" {
		return ValidateResult{}, oauth.InvalidRequest("missing required parameter \"assertion\"")
	}
	a, err := decodeAssertion(tok)
	if err != nil {
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeMalformed, "assertion: %v", err)
	}
	ctx := r.Context()
	now := s.clock.Now()
	agent, aerr := s.liveAgent(ctx, a.AgentRuntimeID, now)
	if aerr != nil {
		if aerr.Status == http.StatusNotFound || aerr.Status == http.StatusForbidden {
			aerr = oauth.New(http.StatusUnauthorized, aerr.Code, "%s", aerr.Description)
		}
		return ValidateResult{}, aerr
	}
	task, terr := s.store.GetAgentTask(ctx, a.TaskID)
	switch {
	case errors.Is(terr, store.ErrNotFound):
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeUnknownTask, "no task %q", a.TaskID)
	case terr != nil:
		return ValidateResult{}, s.storeErr(r, "get task", terr)
	case task.RuntimeID != a.AgentRuntimeID && !s.hooks.skipAssertionTaskOwner():
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeTaskAgentMismatch, "task %q belongs to another agent", a.TaskID)
	}
	ts, cerr := checkTimestamp(a.Timestamp, now)
	if cerr != nil && cerr.Code == codeBadTimestamp && s.hooks.skipAssertionAge() {
		cerr = nil
	}
	if cerr != nil {
		if cerr.Code == codeBadTimestamp {
			cerr = oauth.New(http.StatusUnauthorized, codeStaleAssertion, "%s", cerr.Description)
		}
		return ValidateResult{}, cerr
	}
	if !verifyEd25519(agent.PublicKey, a.AgentRuntimeID+":"+a.TaskID+":"+a.Timestamp, a.Signature) {
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeBadSignature, "assertion signature does not verify with the agent's key")
	}
	// Remember the assertion until it could no longer pass the skew check.
	nonce := assertionNoncePrefix + store.Hash(a.AgentRuntimeID+"|"+a.TaskID+"|"+a.Timestamp+"|"+a.Signature)
	if err := s.store.UseNonce(ctx, nonce, ts.Add(AgentSkew+time.Second)); errors.Is(err, store.ErrAlreadyUsed) {
		return ValidateResult{}, oauth.New(http.StatusUnauthorized, codeReplayed, "this assertion was used before")
	} else if err != nil {
		return ValidateResult{}, s.storeErr(r, "record assertion", err)
	}
	return ValidateResult{UserID: agent.UserID, AccountID: agent.AccountID, Scheme: "agent_assertion", RuntimeID: a.AgentRuntimeID, TaskID: a.TaskID}, nil
}
