// Package harness is everything the conformance specs need, without Ginkgo:
// a wire client that speaks exactly as codex 0.169.0 does, the checks codex
// applies to what it receives, targets and their capabilities, approvers,
// and the conformance report. docs/codex-issuer-contract.md is the source;
// section numbers below refer to it.
package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Claim names (contract §5).
const (
	ClaimAuth    = "https://api.openai.com/auth"
	ClaimProfile = "https://api.openai.com/profile"
)

// DecodeJWTPayload applies codex's JWT rules (§5.1): split on '.', the first
// three segments non-empty (more are ignored), the payload unpadded
// base64url (a padded or standard-alphabet payload fails), a JSON object.
// Neither header nor signature is checked: codex does not.
func DecodeJWTPayload(raw string) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, errors.New("invalid ID token format: need three non-empty dot-separated segments")
	}
	if strings.ContainsAny(parts[1], "=+/") {
		return nil, errors.New("invalid padding: the payload is not unpadded base64url (codex: \"Invalid padding\")")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("payload is not unpadded base64url: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("payload is not a JSON object: %v", err)
	}
	return m, nil
}

// IDInfo is what codex extracts from an id_token (§5.2).
type IDInfo struct {
	Email          string
	HasAuth        bool
	AccountID      string
	UserID         string
	PlanType       string
	FedRAMP        bool
	OrganizationID string
	ProjectID      string
}

// ParseIDToken applies every check by which codex aborts a login (§5.2):
// a non-string email, a non-object auth claim, a non-string plan, a
// non-boolean FedRAMP flag.
func ParseIDToken(raw string) (IDInfo, error) {
	var info IDInfo
	c, err := DecodeJWTPayload(raw)
	if err != nil {
		return info, err
	}
	if v, ok := c["email"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return info, fmt.Errorf("email is %s, codex needs a string", jsonType(v))
		}
		info.Email = s
	} else if p, ok := c[ClaimProfile].(map[string]any); ok {
		if s, ok := p["email"].(string); ok {
			info.Email = s
		}
	}
	av, ok := c[ClaimAuth]
	if !ok || av == nil {
		return info, nil
	}
	auth, ok := av.(map[string]any)
	if !ok {
		return info, fmt.Errorf("%s is %s, codex needs an object", ClaimAuth, jsonType(av))
	}
	info.HasAuth = true
	str := func(k string) (string, error) {
		v, ok := auth[k]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("auth.%s is %s, codex needs a string", k, jsonType(v))
		}
		return s, nil
	}
	if info.PlanType, err = str("chatgpt_plan_type"); err != nil {
		return info, err
	}
	if info.AccountID, err = str("chatgpt_account_id"); err != nil {
		return info, err
	}
	if info.UserID, err = str("chatgpt_user_id"); err != nil {
		return info, err
	}
	if info.UserID == "" {
		if info.UserID, err = str("user_id"); err != nil {
			return info, err
		}
	}
	if v, ok := auth["chatgpt_account_is_fedramp"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return info, fmt.Errorf("auth.chatgpt_account_is_fedramp is %s, codex needs a boolean", jsonType(v))
		}
		info.FedRAMP = b
	}
	info.OrganizationID, _ = auth["organization_id"].(string)
	info.ProjectID, _ = auth["project_id"].(string)
	return info, nil
}

// AccessExp reads the access token's exp the way codex's proactive refresh
// does (§5.3, §6.1): only from a JWT under §5.1, only as an integer.
func AccessExp(raw string) (int64, error) {
	c, err := DecodeJWTPayload(raw)
	if err != nil {
		return 0, fmt.Errorf("access token is not a JWT codex can read: %v", err)
	}
	n, ok := c["exp"].(json.Number)
	if !ok {
		return 0, fmt.Errorf("exp is %s, codex needs an integer", jsonType(c["exp"]))
	}
	v, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("exp %s is not an integer", n)
	}
	return v, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// RefreshClass is how codex classifies a refresh answer (§6.5).
type RefreshClass string

// Classes.
const (
	RefreshOK        RefreshClass = "ok"
	RefreshPermanent RefreshClass = "permanent"
	RefreshTransient RefreshClass = "transient"
)

// ErrorCode extracts the error code the way codex does: error.code (object
// form), else error (string form), else top-level code; lower-cased.
func ErrorCode(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	if e, ok := m["error"].(map[string]any); ok {
		if c, ok := e["code"].(string); ok {
			return strings.ToLower(c)
		}
	}
	if e, ok := m["error"].(string); ok {
		return strings.ToLower(e)
	}
	if c, ok := m["code"].(string); ok {
		return strings.ToLower(c)
	}
	return ""
}

// ClassifyRefresh applies codex's classification and returns the class and,
// for permanent failures, the reason codex reports.
func ClassifyRefresh(status int, body []byte) (RefreshClass, string) {
	if status >= 200 && status < 300 {
		return RefreshOK, ""
	}
	switch code := ErrorCode(body); {
	case code == "refresh_token_expired":
		return RefreshPermanent, "expired"
	case code == "refresh_token_reused":
		return RefreshPermanent, "exhausted"
	case code == "refresh_token_invalidated":
		return RefreshPermanent, "revoked"
	case status == 401:
		return RefreshPermanent, "other"
	case status == 400 && code == "invalid_grant":
		return RefreshPermanent, "other"
	}
	return RefreshTransient, ""
}

// DeviceTokenDisplay derives what codex shows for a failed token exchange
// (§3.4): error_description, error.message, error or error.code, the body.
func DeviceTokenDisplay(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		if d, ok := m["error_description"].(string); ok && d != "" {
			return d
		}
		if e, ok := m["error"].(map[string]any); ok {
			if s, ok := e["message"].(string); ok {
				return s
			}
			if s, ok := e["code"].(string); ok {
				return s
			}
		}
		if s, ok := m["error"].(string); ok {
			return s
		}
	}
	if len(body) == 0 {
		return "unknown error"
	}
	return string(body)
}
