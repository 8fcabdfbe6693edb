package issuer

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// GrantJWTBearer is the workload-identity federation grant (RFC 7523) codex
// uses with OPENAI_FEDERATION_RULE_ID and OPENAI_IDENTITY_TOKEN_FILE
// (contract §9.2).
const GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// workloadAudience is the audience of the workload assertions this issuer
// mints for tests (it plays the external identity provider too).
const workloadAudience = "codexauth-workload-federation"

// maxWorkloadTTL is codex's ceiling for expires_in (7200 was rejected).
const maxWorkloadTTL = time.Hour

// grantJWTBearer exchanges a workload assertion for an access token. The
// assertion must be a JWT this issuer signed as the workload identity
// provider (POST /__admin/workload-assertions), whose subject names a user
// bound to the federation rule. codex requires every field of the answer and
// a JWT access token whose auth.chatgpt_user_id equals user_id.
func (s *Server) grantJWTBearer(r *http.Request, p params) (any, error) {
	if err := p.require("assertion", "federation_rule_id"); err != nil {
		return nil, err
	}
	claims, err := s.verifyOwnJWT(r.Context(), p.get("assertion"))
	if err != nil {
		return nil, oauth.InvalidGrant("assertion is not a valid workload identity token: %v", err)
	}
	if aud, _ := claims.GetAudience(); !slices.Contains(aud, workloadAudience) {
		return nil, oauth.InvalidGrant("assertion audience is not %s", workloadAudience)
	}
	sub, _ := claims.GetSubject()
	userID, ok := strings.CutPrefix(sub, "workload:")
	if !ok {
		return nil, oauth.InvalidGrant("assertion subject %q is not a workload", sub)
	}
	ctx := r.Context()
	u, err := s.store.GetUser(ctx, userID)
	if err != nil || u.Disabled || !slices.Contains(u.FederationRules, p.get("federation_rule_id")) {
		return nil, oauth.InvalidGrant("federation rule %q does not admit this workload", p.get("federation_rule_id"))
	}
	return s.issueWorkload(ctx, u)
}

func (s *Server) issueWorkload(ctx context.Context, u store.User) (any, error) {
	now := s.clock.Now()
	ttl := min(s.accessTTL(), maxWorkloadTTL)
	jti := random(16)
	fam := store.Family{ID: "wif_" + random(16), UserID: u.ID, ClientID: "workload-identity", Scope: defaultScope, CreatedAt: now}
	access, err := s.signer.sign(ctx, workloadAccessToken, s.accessClaims(u, fam.ClientID, fam.Scope, jti, now, now.Add(ttl)))
	if err != nil {
		return nil, err
	}
	if err := s.store.RecordAccessToken(ctx, store.AccessTokenRecord{JTI: jti, FamilyID: fam.ID, UserID: u.ID,
		ClientID: fam.ClientID, IssuedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return nil, err
	}
	return map[string]any{
		"access_token": access, "token_type": "bearer", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"expires_in": int64(ttl / time.Second), "scope": defaultScope,
		"chatgpt_account_id": u.AccountID, "chatgpt_account_user_id": u.ChatGPTUserID + "__" + u.AccountID,
		"user_id": u.ChatGPTUserID, "chatgpt_plan_type": u.PlanType,
	}, nil
}

// adminWorkloadAssertion mints a workload identity token (as the external
// identity provider would) and binds a federation rule to the user.
func (s *Server) adminWorkloadAssertion(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User string `json:"user"`
		Rule string `json:"federation_rule_id"`
	}
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	ctx := r.Context()
	u, err := s.store.GetUser(ctx, in.User)
	if err != nil {
		oauth.Write(w, oauth.InvalidRequest("no user %q", in.User))
		return
	}
	if in.Rule == "" {
		in.Rule = "fr_" + random(12)
	}
	if !slices.Contains(u.FederationRules, in.Rule) {
		u.FederationRules = append(u.FederationRules, in.Rule)
		if err := s.store.PutUser(ctx, u); err != nil {
			oauth.Write(w, s.storeErr(r, "bind federation rule", err))
			return
		}
	}
	now := s.clock.Now()
	assertion, err := s.signer.sign(ctx, workloadAssertion, jwt.MapClaims{"iss": s.cfg.PublicURL, "aud": []string{workloadAudience}, "sub": "workload:" + u.ID,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": random(16)})
	if err != nil {
		oauth.Write(w, s.storeErr(r, "sign assertion", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"federation_rule_id": in.Rule, "assertion": assertion})
}
