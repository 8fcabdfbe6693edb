package foreignissuer

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Agent identity literals codex checks (contract §8.1).
const (
	agentIssuer   = "https://chatgpt.com/codex-backend/agent-identity"
	agentAudience = "codex-app-server"
	agentTTL      = 12 * time.Hour
	// skew is how far a registration or assertion timestamp may be off.
	skew = 5 * time.Minute
)

type agent struct {
	user    user
	key     ed25519.PublicKey
	expires time.Time
}

type task struct{ runtimeID string }

// MintAgentIdentity creates an agent of user ("alice") and returns its
// identity JWT (§8.1): RS256 with kid, the literal iss and a string aud,
// integer iat/exp, and agent_private_key = standard base64 of the
// agent's PKCS#8 Ed25519 private key.
func (iss *Issuer) MintAgentIdentity(userName string) (string, error) {
	if userName != alice.name {
		return "", fmt.Errorf("foreign issuer: unknown user %q", userName)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("foreign issuer: agent key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("foreign issuer: agent key: %w", err)
	}
	now, rid := iss.now(), "agent_fi_"+randomHex(10)
	raw, err := iss.agentKey.sign(map[string]any{"iss": agentIssuer, "aud": agentAudience, "iat": now.Unix(),
		"exp": now.Add(agentTTL).Unix(), "agent_runtime_id": rid, "account_id": alice.accountID,
		"chatgpt_user_id": alice.id, "plan_type": alice.plan, "chatgpt_account_is_fedramp": false, "email": alice.email,
		"agent_private_key": base64.StdEncoding.EncodeToString(der)})
	if err != nil {
		return "", fmt.Errorf("foreign issuer: sign agent identity: %w", err)
	}
	iss.mu.Lock()
	iss.agents[rid] = &agent{user: alice, key: pub, expires: now.Add(agentTTL)}
	iss.mu.Unlock()
	return raw, nil
}

// withinSkew parses an RFC 3339 timestamp and checks it is within ±5 min.
func withinSkew(ts string, now time.Time) (bool, error) {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return false, err
	}
	d := now.Sub(t)
	return d <= skew && d >= -skew, nil
}

// registerTask is E9 (§8.2): {timestamp, signature} with the Ed25519
// signature over "<runtime id>:<timestamp>". A byte-identical repeat gets
// the first task back (codex repeats registrations within one second and
// Ed25519 is deterministic); nothing new is created from a replay.
func (iss *Issuer) registerTask(w http.ResponseWriter, r *http.Request) {
	rid := r.PathValue("rid")
	var req struct{ Timestamp, Signature string }
	if err := readJSON(r, &req); err != nil || req.Timestamp == "" || req.Signature == "" {
		iss.fail(w, errorf(400, "malformed", "expected a JSON object with timestamp and signature"))
		return
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	now := iss.now()
	a := iss.agents[rid]
	if a == nil {
		iss.fail(w, errorf(404, "unknown_agent", "no such agent"))
		return
	}
	if !now.Before(a.expires) {
		iss.fail(w, errorf(403, "agent_expired", "the agent identity expired"))
		return
	}
	ok, err := withinSkew(req.Timestamp, now)
	if err != nil {
		iss.fail(w, errorf(400, "malformed", "timestamp is not RFC 3339"))
		return
	}
	if !ok {
		iss.fail(w, errorf(401, "timestamp_out_of_range", "timestamp is more than 5 minutes off"))
		return
	}
	sig, err := base64.StdEncoding.DecodeString(req.Signature)
	if err != nil || !ed25519.Verify(a.key, []byte(rid+":"+req.Timestamp), sig) {
		iss.fail(w, errorf(401, "invalid_signature", "the signature does not verify with the agent's key"))
		return
	}
	seen := digest(rid + "\x00" + req.Timestamp + "\x00" + req.Signature)
	id := iss.registrations[seen]
	if id == "" {
		id = "task_fi_" + randomHex(12)
		iss.tasks[id] = &task{runtimeID: rid}
		iss.registrations[seen] = id
	}
	iss.writeJSON(w, 200, map[string]any{"task_id": id})
}

// validate is the gateway endpoint (README "Agent identities, validation
// and keys"): X-Internal-Secret compared in constant time, then a bearer
// access token or an AgentAssertion → {user_id}; refusals are 401 with a
// reason, malformed requests 400.
func (iss *Issuer) validate(w http.ResponseWriter, r *http.Request) {
	if !equalSecret(r.Header.Get("X-Internal-Secret"), iss.InternalSecret) {
		iss.fail(w, errorf(401, "invalid_secret", "X-Internal-Secret is missing or wrong"))
		return
	}
	var req struct {
		Scheme    string `json:"scheme"`
		Token     string `json:"token"`
		Assertion string `json:"assertion"`
		AccountID string `json:"account_id"`
	}
	if err := readJSON(r, &req); err != nil {
		iss.fail(w, errorf(400, "malformed", "expected a JSON object of strings"))
		return
	}
	var answer map[string]any
	var e *apiError
	switch req.Scheme {
	case "bearer":
		answer, e = iss.validateBearer(req.Token)
	case "agent_assertion":
		answer, e = iss.validateAssertion(req.Assertion)
	default:
		e = errorf(400, "malformed", "scheme must be bearer or agent_assertion")
	}
	if e == nil && req.AccountID != "" && req.AccountID != answer["account_id"] {
		e = errorf(401, "account_mismatch", "the credential belongs to another account")
	}
	if e != nil {
		iss.fail(w, e)
		return
	}
	iss.writeJSON(w, 200, answer)
}

// validateBearer accepts a live access token of ours: RS256 under our kid
// with a valid signature, our iss, the access audience (an id_token has
// the client's), unexpired, issued by us and not revoked.
func (iss *Issuer) validateBearer(token string) (map[string]any, *apiError) {
	c, err := iss.verify(token, accessAudience)
	if errors.Is(err, errTokenExpired) {
		return nil, errorf(401, "token_expired", "the access token expired")
	}
	if err != nil {
		return nil, errorf(401, "invalid_token", "not a valid access token of this issuer")
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	rec := iss.access[c.ID]
	switch {
	case rec == nil:
		return nil, errorf(401, "invalid_token", "unknown access token")
	case rec.revoked || rec.family.revoked:
		return nil, errorf(401, "token_revoked", "the access token was revoked")
	}
	u := rec.family.user
	return map[string]any{"user_id": u.id, "account_id": u.accountID, "email": u.email, "plan_type": u.plan}, nil
}

// validateAssertion checks an AgentAssertion (§8.3): unpadded base64url of
// {agent_runtime_id, signature, task_id, timestamp}, the Ed25519 signature
// over "<runtime>:<task>:<timestamp>", ±5 minutes, a task of that very
// agent, and accepted once.
func (iss *Issuer) validateAssertion(assertion string) (map[string]any, *apiError) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(assertion, "="))
	var as struct {
		RuntimeID string `json:"agent_runtime_id"`
		Signature string `json:"signature"`
		TaskID    string `json:"task_id"`
		Timestamp string `json:"timestamp"`
	}
	if err != nil || json.Unmarshal(raw, &as) != nil || as.RuntimeID == "" || as.Signature == "" || as.TaskID == "" || as.Timestamp == "" {
		return nil, errorf(400, "malformed", "not an AgentAssertion")
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	now := iss.now()
	a, t := iss.agents[as.RuntimeID], iss.tasks[as.TaskID]
	switch {
	case a == nil:
		return nil, errorf(401, "unknown_agent", "no such agent")
	case !now.Before(a.expires):
		return nil, errorf(401, "agent_expired", "the agent identity expired")
	case t == nil:
		return nil, errorf(401, "unknown_task", "no such task")
	case t.runtimeID != as.RuntimeID:
		return nil, errorf(401, "task_agent_mismatch", "the task belongs to another agent")
	}
	ok, err := withinSkew(as.Timestamp, now)
	if err != nil {
		return nil, errorf(400, "malformed", "timestamp is not RFC 3339")
	}
	if !ok {
		return nil, errorf(401, "assertion_stale", "timestamp is more than 5 minutes off")
	}
	sig, err := base64.StdEncoding.DecodeString(as.Signature)
	if err != nil || !ed25519.Verify(a.key, []byte(as.RuntimeID+":"+as.TaskID+":"+as.Timestamp), sig) {
		return nil, errorf(401, "invalid_signature", "the signature does not verify with the agent's key")
	}
	for k, until := range iss.assertions { // forget what the skew window refuses anyway
		if now.After(until) {
			delete(iss.assertions, k)
		}
	}
	seen := digest(as.RuntimeID + "\x00" + as.TaskID + "\x00" + as.Timestamp + "\x00" + as.Signature)
	if _, replay := iss.assertions[seen]; replay {
		return nil, errorf(401, "replayed", "this assertion was already used")
	}
	ts, _ := time.Parse(time.RFC3339, as.Timestamp)
	iss.assertions[seen] = ts.Add(skew + time.Minute)
	return map[string]any{"user_id": a.user.id, "account_id": a.user.accountID, "agent_runtime_id": as.RuntimeID, "task_id": as.TaskID}, nil
}

// bearer returns the Authorization: Bearer credential.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// whoami resolves a personal access token (§9.1).
func (iss *Issuer) whoami(w http.ResponseWriter, r *http.Request) {
	iss.mu.Lock()
	u, ok := iss.pats[digest(bearer(r))]
	iss.mu.Unlock()
	if !ok {
		iss.fail(w, errorf(401, "invalid_token", "unknown personal access token"))
		return
	}
	iss.writeJSON(w, 200, map[string]any{"chatgpt_user_id": u.id, "chatgpt_account_id": u.accountID,
		"chatgpt_plan_type": u.plan, "chatgpt_account_is_fedramp": false, "email": u.email})
}

// accountsCheck is the ChatGPT backend's workspace routing discovery that
// codex app-server needs after login (§3.9): the account with an https origin.
func (iss *Issuer) accountsCheck(w http.ResponseWriter, r *http.Request) {
	answer, e := iss.validateBearer(bearer(r))
	if e != nil {
		iss.fail(w, e)
		return
	}
	iss.writeJSON(w, 200, map[string]any{"accounts": []any{map[string]any{"id": answer["account_id"],
		"workspace_backend_origin": "https://chatgpt.com", "account_routing_override": "NO_CONSTRAINT"}}})
}
