package wire

import (
	"context"
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// Agent identity literals codex checks (§8.1).
const (
	AgentIssuer   = "https://chatgpt.com/codex-backend/agent-identity"
	AgentAudience = "codex-app-server"
)

// AgentIdentity is a parsed agent identity JWT with its private key.
type AgentIdentity struct {
	Raw       string
	Header    map[string]any
	Claims    map[string]any
	RuntimeID string
	Key       ed25519.PrivateKey
	KeyErr    error
}

// ParseAgentIdentity decodes an agent identity JWT (without verifying it)
// and its agent_private_key: standard base64 of a PKCS#8 Ed25519 key.
func ParseAgentIdentity(raw string) (AgentIdentity, error) {
	a := AgentIdentity{Raw: strings.TrimSpace(raw)}
	parts := strings.Split(a.Raw, ".")
	if len(parts) != 3 {
		return a, errors.New("agent identity is not a three-part JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &a.Header) != nil {
		return a, errors.New("agent identity header is not base64url JSON")
	}
	c, err := DecodeJWTPayload(a.Raw)
	if err != nil {
		return a, err
	}
	a.Claims = c
	a.RuntimeID, _ = c["agent_runtime_id"].(string)
	a.Key, a.KeyErr = decodeAgentKey(c["agent_private_key"])
	return a, nil
}

func decodeAgentKey(v any) (ed25519.PrivateKey, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errors.New("agent_private_key is not a string")
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("agent_private_key is not standard base64: %v", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("agent_private_key is not PKCS#8: %v", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("agent_private_key is %T, not Ed25519", k)
	}
	return ek, nil
}

// Timestamp formats t as codex does: RFC 3339, seconds, Z.
func Timestamp(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}

// RegisterTask is E9: POST <authapi>/v1/agent/<rid>/task/register with the
// Ed25519 signature over "<rid>:<timestamp>", no Authorization header.
func (c *Client) RegisterTask(ctx context.Context, a AgentIdentity, ts string, key ed25519.PrivateKey) *Exchange {
	if key == nil {
		key = a.Key
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(a.RuntimeID+":"+ts)))
	return c.RegisterTaskRaw(ctx, a.RuntimeID, ts, sig)
}

// RegisterTaskRaw posts a registration with a given signature.
func (c *Client) RegisterTaskRaw(ctx context.Context, rid, ts, sig string) *Exchange {
	return c.Do(ctx, http.MethodPost, c.Endpoints.AuthAPIBase+"/v1/agent/"+rid+"/task/register", "application/json",
		`{"timestamp":`+jsonString(ts)+`,"signature":`+jsonString(sig)+`}`, nil)
}

// TaskID reads a registration answer the way codex does: task_id or
// taskId in the clear, or encrypted_task_id / encryptedTaskId, a standard
// base64 libsodium sealed box to the agent's X25519 key (§8.2).
func TaskID(ex *Exchange) (string, error) {
	return TaskIDFor(ex, nil)
}

// TaskIDFor is TaskID with the agent key that opens encrypted task ids.
func TaskIDFor(ex *Exchange, key ed25519.PrivateKey) (string, error) {
	m := ex.JSON()
	for _, k := range []string{"task_id", "taskId"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s, nil
		}
	}
	for _, k := range []string{"encrypted_task_id", "encryptedTaskId"} {
		if s, ok := m[k].(string); ok && s != "" {
			if key == nil {
				return "", errors.New("encrypted task id, and no agent key to open it")
			}
			return OpenTaskID(s, key)
		}
	}
	return "", fmt.Errorf("no task_id in %s", ex)
}

// X25519Keys derives the agent's X25519 key pair from its Ed25519 key the
// way codex does: the first 32 bytes of SHA-512(seed), clamped.
func X25519Keys(key ed25519.PrivateKey) (priv, pub [32]byte) {
	h := sha512.Sum512(key.Seed())
	copy(priv[:], h[:32])
	priv[0] &= 248
	priv[31] &= 127
	priv[31] |= 64
	p, _ := curve25519.X25519(priv[:], curve25519.Basepoint)
	copy(pub[:], p)
	return priv, pub
}

// OpenTaskID decrypts an encrypted task id (sealed box, standard base64).
func OpenTaskID(b64 string, key ed25519.PrivateKey) (string, error) {
	sealed, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("encrypted task id is not standard base64: %v", err)
	}
	priv, pub := X25519Keys(key)
	plain, ok := box.OpenAnonymous(nil, sealed, &pub, &priv)
	if !ok {
		return "", errors.New("encrypted task id does not open with the agent's key")
	}
	return string(plain), nil
}

// Assertion builds codex's AgentAssertion token: unpadded base64url of
// compact JSON with sorted keys, signed over "<rid>:<task>:<timestamp>".
func Assertion(rid, task, ts string, key ed25519.PrivateKey) string {
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(rid+":"+task+":"+ts)))
	b, _ := json.Marshal(map[string]string{"agent_runtime_id": rid, "signature": sig, "task_id": task, "timestamp": ts})
	return base64.RawURLEncoding.EncodeToString(b)
}

// Validate calls a gateway validate endpoint.
func (c *Client) Validate(ctx context.Context, validateURL, secret string, body map[string]string) *Exchange {
	b, _ := json.Marshal(body)
	hdr := map[string]string{}
	if secret != "" {
		hdr["X-Internal-Secret"] = secret
	}
	return c.Do(ctx, "POST", validateURL, "application/json", string(b), hdr)
}

// WorkloadExchange is E12 as 0.169.0 sends it (§9.2): form, no User-Agent.
func (c *Client) WorkloadExchange(ctx context.Context, assertion, ruleID, wiContext string) *Exchange {
	kv := []string{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion", assertion, "federation_rule_id", ruleID}
	if wiContext != "" {
		kv = append(kv, "workload_identity_context", wiContext)
	}
	return c.Do(ctx, http.MethodPost, c.Issuer+"/oauth/token", "application/x-www-form-urlencoded", OrderedForm(kv...), c.loginHeaders())
}
