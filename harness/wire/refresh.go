package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Refresh and revoke (§6, §7).

// Refresh is E4 as 0.169.0 sends it: JSON, sorted keys, codex headers.
func (c *Client) Refresh(ctx context.Context, refreshToken, reason string) *Exchange {
	return c.RefreshEncoded(ctx, EncodingJSON, refreshToken, reason)
}

// Encoding of a request body.
type Encoding string

// Encodings of the token endpoint.
const (
	EncodingJSON Encoding = "json"
	EncodingForm Encoding = "form"
)

// RefreshEncoded is E4 in the given encoding: codex's JSON, or the same
// fields form-encoded (RFC 6749 §6), which the suite uses to classify refresh
// errors of an issuer that refuses JSON.
func (c *Client) RefreshEncoded(ctx context.Context, enc Encoding, refreshToken, reason string) *Exchange {
	hdr := map[string]string{"originator": "codex_cli_rs", "User-Agent": UserAgent}
	if enc == EncodingForm {
		return c.Do(ctx, http.MethodPost, c.Endpoints.RefreshURL, "application/x-www-form-urlencoded", OrderedForm("client_id", c.ClientID,
			"grant_type", "refresh_token", "refresh_reason", reason, "refresh_token", refreshToken), hdr)
	}
	body := `{"client_id":` + jsonString(c.ClientID) + `,"grant_type":"refresh_token","refresh_reason":` + jsonString(reason) +
		`,"refresh_token":` + jsonString(refreshToken) + `}`
	return c.Do(ctx, http.MethodPost, c.Endpoints.RefreshURL, "application/json", body, hdr)
}

// RefreshResult is what codex persists from a 2xx refresh (§6.4): every
// field optional; a present id_token must parse.
type RefreshResult struct {
	IDToken, AccessToken, RefreshToken string
}

// ParseRefresh applies §6.4.
func ParseRefresh(ex *Exchange) (RefreshResult, error) {
	var raw map[string]any
	if err := json.Unmarshal(ex.Body, &raw); err != nil || raw == nil {
		return RefreshResult{}, fmt.Errorf("refresh response is not a JSON object (codex treats this as transient): %s", errOrNull(err))
	}
	var r RefreshResult
	if v, ok := raw["id_token"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return r, fmt.Errorf("id_token is not a string")
		}
		if _, err := ParseIDToken(s); err != nil {
			return r, fmt.Errorf("refreshed id_token is not usable (codex persists nothing): %v", err)
		}
		r.IDToken = s
	}
	r.AccessToken, _ = raw["access_token"].(string)
	r.RefreshToken, _ = raw["refresh_token"].(string)
	return r, nil
}

// Revoke is E5 (§7): JSON, with client_id for refresh tokens only.
func (c *Client) Revoke(ctx context.Context, token, hint string) *Exchange {
	body := `{"token":` + jsonString(token) + `,"token_type_hint":` + jsonString(hint)
	if hint == "refresh_token" {
		body += `,"client_id":` + jsonString(c.ClientID)
	}
	body += "}"
	return c.Do(ctx, http.MethodPost, c.Endpoints.RevokeURL, "application/json", body, map[string]string{"originator": "codex_cli_rs", "User-Agent": UserAgent})
}

// RevokeForm is E5 form-encoded (RFC 7009 §2.1).
func (c *Client) RevokeForm(ctx context.Context, token, hint string) *Exchange {
	return c.Do(ctx, http.MethodPost, c.Endpoints.RevokeURL, "application/x-www-form-urlencoded",
		OrderedForm("token", token, "token_type_hint", hint, "client_id", c.ClientID), nil)
}

func errOrNull(err error) string {
	if err == nil {
		return "null"
	}
	return err.Error()
}
