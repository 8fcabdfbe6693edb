package store

import "context"

// User is a person who can sign in, with the claims codex reads.
type User struct {
	ID              string         `json:"id"`
	Email           string         `json:"email"`
	Name            string         `json:"name,omitempty"`
	PasswordHash    string         `json:"password_hash,omitempty"`
	AccountID       string         `json:"account_id"`
	ChatGPTUserID   string         `json:"chatgpt_user_id"`
	PlanType        string         `json:"plan_type"`
	FedRAMP         bool           `json:"fedramp"`
	Organizations   []Organization `json:"organizations,omitempty"`
	OrganizationID  string         `json:"organization_id,omitempty"`
	ProjectID       string         `json:"project_id,omitempty"`
	IsOrgOwner      bool           `json:"is_org_owner,omitempty"`
	Onboarded       bool           `json:"completed_platform_onboarding,omitempty"`
	ExtraAuthClaims map[string]any `json:"extra_auth_claims,omitempty"`
	ExtraClaims     map[string]any `json:"extra_claims,omitempty"`
	Disabled        bool           `json:"disabled,omitempty"`
	// FederationRules are the workload-identity federation rule ids that
	// sign this user in (contract §9.2).
	FederationRules []string `json:"federation_rules,omitempty"`
}

// Organization is one entry of the auth claim's organizations list.
type Organization struct {
	ID        string `json:"id"`
	Title     string `json:"title,omitempty"`
	Role      string `json:"role,omitempty"`
	IsDefault bool   `json:"is_default"`
}

// Users stores users and their claims.
type Users interface {
	PutUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	DeleteUser(ctx context.Context, id string) error
}
