package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// The device flow (§4).

// DeviceCode is the parsed usercode answer.
type DeviceCode struct {
	DeviceAuthID string
	UserCode     string
	// Interval is the raw JSON of the interval field ("" if absent).
	IntervalRaw string
}

// IntervalIsString reports whether interval is a JSON string of an integer,
// the only form codex accepts (§4.1).
func (d DeviceCode) IntervalIsString() bool {
	var s string
	if json.Unmarshal([]byte(d.IntervalRaw), &s) != nil {
		return false
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// RequestDeviceCode is E6: POST usercode {"client_id":…}.
func (c *Client) RequestDeviceCode(ctx context.Context) (DeviceCode, *Exchange) {
	ex := c.PostJSON(ctx, "/api/accounts/deviceauth/usercode", `{"client_id":`+jsonString(c.ClientID)+`}`, nil)
	var d DeviceCode
	var raw map[string]json.RawMessage
	if ex.Err == nil && json.Unmarshal(ex.Body, &raw) == nil {
		_ = json.Unmarshal(raw["device_auth_id"], &d.DeviceAuthID)
		if json.Unmarshal(raw["user_code"], &d.UserCode) != nil || d.UserCode == "" {
			_ = json.Unmarshal(raw["usercode"], &d.UserCode)
		}
		d.IntervalRaw = string(raw["interval"])
	}
	return d, ex
}

// DevicePoll is one E7 poll as codex sends it.
func (c *Client) DevicePoll(ctx context.Context, d DeviceCode) *Exchange {
	return c.PostJSON(ctx, "/api/accounts/deviceauth/token", `{"device_auth_id":`+jsonString(d.DeviceAuthID)+`,"user_code":`+jsonString(d.UserCode)+`}`, nil)
}

// DeviceGrant is a successful poll (§4.2): all three fields required.
type DeviceGrant struct {
	AuthorizationCode, CodeChallenge, CodeVerifier string
}

// ParseDeviceGrant applies codex's decoding of a 2xx poll.
func ParseDeviceGrant(ex *Exchange) (DeviceGrant, error) {
	var raw map[string]any
	if err := json.Unmarshal(ex.Body, &raw); err != nil {
		return DeviceGrant{}, fmt.Errorf("error decoding response body: %v", err)
	}
	var g DeviceGrant
	for k, dst := range map[string]*string{"authorization_code": &g.AuthorizationCode, "code_challenge": &g.CodeChallenge, "code_verifier": &g.CodeVerifier} {
		s, ok := raw[k].(string)
		if !ok {
			return g, fmt.Errorf("error decoding response body: %s missing or not a string", k)
		}
		*dst = s
	}
	return g, nil
}

// IsPending is codex's pending test: 403 or 404 (§4.2).
func IsPending(status int) bool { return status == 403 || status == 404 }

// DeviceCallback is the redirect URI codex redeems device codes with.
func (c *Client) DeviceCallback() string { return c.Issuer + "/deviceauth/callback" }
