package issuer

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"filippo.io/edwards25519"
	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/nacl/box"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Agent identity constants codex checks literally (contract §8.1).
const (
	AgentIssuer   = "https://chatgpt.com/codex-backend/agent-identity"
	AgentAudience = "codex-app-server"
	// AgentSkew is how far a task registration or assertion timestamp may
	// stray from the issuer clock.
	AgentSkew = 5 * time.Minute
)

// agentTTL is the lifetime of minted agent identities.
const agentTTL = 24 * time.Hour

var runtimeIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// MintedAgent is the admin API's answer to a mint.
type MintedAgent struct {
	RuntimeID string    `json:"runtime_id"`
	JWT       string    `json:"jwt"`
	ExpiresAt time.Time `json:"expires_at"`
}

// MintAgentIdentity creates an agent identity for userID: an Ed25519 key
// pair (the public half stays here) and the RS256 JWT codex verifies.
func (s *Server) MintAgentIdentity(ctx context.Context, userID, runtimeID string, ttl time.Duration) (MintedAgent, error) {
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return MintedAgent{}, err
	}
	if runtimeID == "" {
		runtimeID = "agent_" + random(16)
	}
	if ttl <= 0 {
		ttl = agentTTL
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return MintedAgent{}, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return MintedAgent{}, err
	}
	now := s.clock.Now()
	exp := now.Add(ttl)
	if err := s.store.CreateAgentIdentity(ctx, store.AgentIdentity{RuntimeID: runtimeID, UserID: u.ID, AccountID: u.AccountID,
		PublicKey: pub, CreatedAt: now, ExpiresAt: exp}); err != nil {
		return MintedAgent{}, err
	}
	jwtText, err := s.signer.sign(ctx, agentIdentityToken, jwt.MapClaims{
		"iss": AgentIssuer, "aud": AgentAudience, "iat": now.Unix(), "exp": exp.Unix(),
		"agent_runtime_id": runtimeID, "agent_private_key": base64.StdEncoding.EncodeToString(pkcs8),
		"account_id": u.AccountID, "chatgpt_user_id": u.ChatGPTUserID, "email": u.Email, "plan_type": u.PlanType,
		"chatgpt_account_is_fedramp": u.FedRAMP,
	})
	if err != nil {
		return MintedAgent{}, err
	}
	s.log.Info("agent identity minted", "runtime_id", runtimeID, "user", u.ID)
	return MintedAgent{RuntimeID: runtimeID, JWT: jwtText, ExpiresAt: exp}, nil
}

func (s *Server) adminMintAgent(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User       string  `json:"user"`
		RuntimeID  string  `json:"runtime_id"`
		TTLSeconds float64 `json:"ttl_seconds"`
	}
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	if in.User == "" {
		oauth.Write(w, oauth.InvalidRequest("user is required"))
		return
	}
	if in.RuntimeID != "" && !runtimeIDPattern.MatchString(in.RuntimeID) {
		oauth.Write(w, oauth.InvalidRequest("runtime_id must be 1-128 characters of [A-Za-z0-9._-]"))
		return
	}
	m, err := s.MintAgentIdentity(r.Context(), in.User, in.RuntimeID, time.Duration(in.TTLSeconds*float64(time.Second)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		oauth.Write(w, oauth.InvalidRequest("no user %q", in.User))
	case errors.Is(err, store.ErrConflict):
		oauth.Write(w, oauth.New(http.StatusConflict, "conflict", "runtime_id %q exists", in.RuntimeID))
	case err != nil:
		oauth.Write(w, s.storeErr(r, "mint agent identity", err))
	default:
		writeJSON(w, http.StatusOK, m)
	}
}

// AgentView is the admin view of an identity.
type AgentView struct {
	RuntimeID string    `json:"runtime_id"`
	UserID    string    `json:"user_id"`
	AccountID string    `json:"account_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Revoked   bool      `json:"revoked"`
	Tasks     []string  `json:"tasks"`
}

func (s *Server) adminListAgents(w http.ResponseWriter, r *http.Request) {
	agents, err := s.store.ListAgentIdentities(r.Context())
	if err != nil {
		oauth.Write(w, s.storeErr(r, "list agents", err))
		return
	}
	out := []AgentView{}
	for _, a := range agents {
		tasks, err := s.store.ListAgentTasks(r.Context(), a.RuntimeID)
		if err != nil {
			oauth.Write(w, s.storeErr(r, "list tasks", err))
			return
		}
		v := AgentView{RuntimeID: a.RuntimeID, UserID: a.UserID, AccountID: a.AccountID, CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt, Revoked: !a.RevokedAt.IsZero(), Tasks: []string{}}
		for _, t := range tasks {
			v.Tasks = append(v.Tasks, t.TaskID)
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminRevokeAgent(w http.ResponseWriter, r *http.Request) {
	err := s.store.RevokeAgentIdentity(r.Context(), chi.URLParam(r, "rid"), s.clock.Now())
	if s.storeFailed(w, r, err, "revoke agent", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no agent identity %q", chi.URLParam(r, "rid"))) {
		return
	}
	s.log.Info("agent identity revoked", "runtime_id", chi.URLParam(r, "rid"))
	w.WriteHeader(http.StatusNoContent)
}

// Agent-identity error codes (documented in README): each failure has its
// own, so a gateway or an operator can tell them apart.
const (
	codeUnknownAgent      = "unknown_agent"
	codeAgentRevoked      = "agent_revoked"
	codeAgentExpired      = "agent_expired"
	codeBadSignature      = "invalid_signature"
	codeBadTimestamp      = "timestamp_out_of_range"
	codeReplayed          = "replayed"
	codeMalformed         = "malformed"
	codeUnknownTask       = "unknown_task"
	codeTaskAgentMismatch = "task_agent_mismatch"
)

// liveAgent loads an identity that may act now.
func (s *Server) liveAgent(ctx context.Context, rid string, now time.Time) (store.AgentIdentity, *oauth.Error) {
	a, err := s.store.GetAgentIdentity(ctx, rid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return a, oauth.New(http.StatusNotFound, codeUnknownAgent, "no agent identity %q", rid)
	case err != nil:
		return a, oauth.Unavailable(err)
	case !a.RevokedAt.IsZero():
		return a, oauth.New(http.StatusForbidden, codeAgentRevoked, "agent identity %q was revoked", rid)
	case !now.Before(a.ExpiresAt):
		return a, oauth.New(http.StatusForbidden, codeAgentExpired, "agent identity %q has expired", rid)
	}
	return a, nil
}

// checkTimestamp parses an RFC 3339 timestamp within the skew window.
func checkTimestamp(ts string, now time.Time) (time.Time, *oauth.Error) {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return t, oauth.New(http.StatusBadRequest, codeMalformed, "timestamp %q is not RFC 3339", ts)
	}
	if d := now.Sub(t); d > AgentSkew || d < -AgentSkew {
		return t, oauth.New(http.StatusUnauthorized, codeBadTimestamp, "timestamp %s is more than %s from the issuer clock", ts, AgentSkew)
	}
	return t, nil
}

func verifyEd25519(pub []byte, msg, sigB64 string) bool {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(pub), []byte(msg), sig)
}

// handleTaskRegister is E9 (§8.2): the agent proves possession of its key
// by signing "<runtime_id>:<timestamp>"; each timestamp+signature registers
// one task only, so a captured registration cannot be replayed.
func (s *Server) handleTaskRegister(w http.ResponseWriter, r *http.Request) {
	rid := chi.URLParam(r, "rid")
	p, perr := readParams(w, r, encJSON)
	if perr != nil {
		oauth.Write(w, perr)
		return
	}
	if err := p.require("timestamp", "signature"); err != nil {
		oauth.Write(w, err)
		return
	}
	ctx := r.Context()
	now := s.clock.Now()
	a, aerr := s.liveAgent(ctx, rid, now)
	if aerr != nil {
		oauth.Write(w, aerr)
		return
	}
	if _, terr := checkTimestamp(p.get("timestamp"), now); terr != nil {
		oauth.Write(w, terr)
		return
	}
	if !s.hooks.skipTaskSignature() && !verifyEd25519(a.PublicKey, rid+":"+p.get("timestamp"), p.get("signature")) {
		oauth.Write(w, oauth.New(http.StatusUnauthorized, codeBadSignature, "signature does not verify with the agent's key"))
		return
	}
	task := store.AgentTask{TaskID: "task_" + random(16), RuntimeID: rid, Nonce: store.Hash(p.get("timestamp") + "|" + p.get("signature")), CreatedAt: now}
	if err := s.store.CreateAgentTask(ctx, task); errors.Is(err, store.ErrConflict) {
		// Ed25519 signatures are deterministic and codex registers at every
		// auth load with a timestamp to the second, so two codex commands
		// within one second send identical registrations. A repeat registers
		// nothing new: it gets the task the first one created.
		prev, ok, ferr := s.taskByNonce(ctx, rid, task.Nonce)
		if ferr != nil {
			oauth.Write(w, s.storeErr(r, "find task", ferr))
			return
		}
		if !ok {
			oauth.Write(w, oauth.New(http.StatusConflict, codeReplayed, "this registration (timestamp and signature) was used before"))
			return
		}
		s.writeTask(w, a, prev.TaskID)
		return
	} else if err != nil {
		oauth.Write(w, s.storeErr(r, "register task", err))
		return
	}
	s.metrics.agentTasks.Inc()
	s.log.Info("agent task registered", "runtime_id", rid, "task", task.TaskID)
	s.writeTask(w, a, task.TaskID)
}

// writeTask answers a registration: the task id in the clear, or (with
// EncryptTaskIDs) as encrypted_task_id, a libsodium sealed box to the
// agent's X25519 key, the variant codex also accepts (§8.2).
func (s *Server) writeTask(w http.ResponseWriter, a store.AgentIdentity, taskID string) {
	if !s.cfg.EncryptTaskIDs {
		writeJSON(w, http.StatusOK, map[string]string{"task_id": taskID})
		return
	}
	p, err := new(edwards25519.Point).SetBytes(a.PublicKey)
	if err != nil {
		oauth.Write(w, oauth.New(http.StatusInternalServerError, oauth.CodeServerError, "agent key is not a valid Ed25519 point"))
		return
	}
	var pub [32]byte
	copy(pub[:], p.BytesMontgomery())
	sealed, err := box.SealAnonymous(nil, []byte(taskID), &pub, rand.Reader)
	if err != nil {
		oauth.Write(w, oauth.New(http.StatusInternalServerError, oauth.CodeServerError, "seal task id: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"encrypted_task_id": base64.StdEncoding.EncodeToString(sealed)})
}

// Assertion is codex's AgentAssertion payload (§8.3).
type Assertion struct {
	AgentRuntimeID string `json:"agent_runtime_id"`
	Signature      string `json:"signature"`
	TaskID         string `json:"task_id"`
	Timestamp      string `json:"timestamp"`
}

// decodeAssertion reads "<b64url JSON>" (padding tolerated).
func decodeAssertion(tok string) (Assertion, error) {
	tok = strings.TrimRight(strings.TrimSpace(tok), "=")
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return Assertion{}, fmt.Errorf("not base64url: %v", err)
	}
	var a Assertion
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Assertion{}, fmt.Errorf("not the assertion JSON: %v", err)
	}
	if a.AgentRuntimeID == "" || a.Signature == "" || a.TaskID == "" || a.Timestamp == "" {
		return Assertion{}, errors.New("agent_runtime_id, signature, task_id and timestamp are all required")
	}
	return a, nil
}

func (s *Server) taskByNonce(ctx context.Context, rid, nonce string) (store.AgentTask, bool, error) {
	tasks, err := s.store.ListAgentTasks(ctx, rid)
	if err != nil {
		return store.AgentTask{}, false, err
	}
	for _, t := range tasks {
		if t.Nonce == nonce {
			return t, true, nil
		}
	}
	return store.AgentTask{}, false, nil
}
