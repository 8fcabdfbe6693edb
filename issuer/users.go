package issuer

import (
	"context"
	"fmt"
	"os"
	"regexp"

	"sigs.k8s.io/yaml"

	"github.com/codexauth/codexauth/issuer/store"
)

// UserFixture is a user as written in a fixtures file (YAML or JSON) or sent
// to the admin API. Unset claims get codex-compatible defaults.
type UserFixture struct {
	ID                          string               `json:"id"`
	Email                       string               `json:"email,omitempty"`
	Name                        string               `json:"name,omitempty"`
	Password                    string               `json:"password,omitempty"`
	AccountID                   string               `json:"account_id,omitempty"`
	ChatGPTUserID               string               `json:"chatgpt_user_id,omitempty"`
	PlanType                    string               `json:"plan_type,omitempty"`
	FedRAMP                     bool                 `json:"fedramp,omitempty"`
	Organizations               []store.Organization `json:"organizations,omitempty"`
	OrganizationID              string               `json:"organization_id,omitempty"`
	ProjectID                   string               `json:"project_id,omitempty"`
	IsOrgOwner                  bool                 `json:"is_org_owner,omitempty"`
	CompletedPlatformOnboarding bool                 `json:"completed_platform_onboarding,omitempty"`
	ExtraAuthClaims             map[string]any       `json:"extra_auth_claims,omitempty"`
	ExtraClaims                 map[string]any       `json:"extra_claims,omitempty"`
	Disabled                    bool                 `json:"disabled,omitempty"`
	FederationRules             []string             `json:"federation_rules,omitempty"`
}

// FixtureFile is the --users file format.
type FixtureFile struct {
	Users []UserFixture `json:"users"`
}

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,128}$`)

// ToUser validates a fixture and fills defaults.
func (f UserFixture) ToUser() (store.User, error) {
	if !userIDPattern.MatchString(f.ID) {
		return store.User{}, fmt.Errorf("user id %q must be 1-128 characters of [A-Za-z0-9._@+-]", f.ID)
	}
	u := store.User{ID: f.ID, Email: f.Email, Name: f.Name, AccountID: f.AccountID, ChatGPTUserID: f.ChatGPTUserID,
		PlanType: f.PlanType, FedRAMP: f.FedRAMP, Organizations: f.Organizations, OrganizationID: f.OrganizationID,
		ProjectID: f.ProjectID, IsOrgOwner: f.IsOrgOwner, Onboarded: f.CompletedPlatformOnboarding,
		ExtraAuthClaims: f.ExtraAuthClaims, ExtraClaims: f.ExtraClaims, Disabled: f.Disabled, FederationRules: f.FederationRules}
	if u.Email == "" {
		u.Email = f.ID + "@example.com"
	}
	if u.AccountID == "" {
		u.AccountID = "acct_" + f.ID
	}
	if u.ChatGPTUserID == "" {
		u.ChatGPTUserID = "user-" + f.ID
	}
	if u.PlanType == "" {
		u.PlanType = "plus"
	}
	if len(u.Organizations) == 0 {
		u.Organizations = []store.Organization{{ID: "org-" + f.ID, Title: "Personal", Role: "owner", IsDefault: true}}
	}
	for k := range u.ExtraAuthClaims {
		switch k {
		case "chatgpt_account_id", "chatgpt_user_id", "user_id", "chatgpt_plan_type", "chatgpt_account_is_fedramp":
			return store.User{}, fmt.Errorf("user %s: extra_auth_claims may not set %q; use the dedicated field", f.ID, k)
		}
	}
	if f.Password != "" {
		h, err := HashPassword(f.Password)
		if err != nil {
			return store.User{}, err
		}
		u.PasswordHash = h
	}
	return u, nil
}

// DefaultUsers are seeded when no fixtures file is given: alice, a Plus
// user, and bob, a Pro user who owns an organization.
func DefaultUsers() []UserFixture {
	return []UserFixture{
		{ID: "alice", Email: "alice@example.com", Name: "Alice Example", PlanType: "plus"},
		{ID: "bob", Email: "bob@example.com", Name: "Bob Example", PlanType: "pro", OrganizationID: "org-bob", ProjectID: "proj-bob", IsOrgOwner: true},
	}
}

// LoadFixtures reads a users file (YAML or JSON).
func LoadFixtures(path string) ([]UserFixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	var f FixtureFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	if len(f.Users) == 0 {
		return nil, fmt.Errorf("users file %s lists no users (expected a top-level \"users:\" list)", path)
	}
	seen := map[string]bool{}
	for _, u := range f.Users {
		if seen[u.ID] {
			return nil, fmt.Errorf("users file %s: user %q appears twice", path, u.ID)
		}
		seen[u.ID] = true
		if _, err := u.ToUser(); err != nil {
			return nil, fmt.Errorf("users file %s: %w", path, err)
		}
	}
	return f.Users, nil
}

// SeedUsers writes fixtures into the store (replacing same-id users).
func SeedUsers(ctx context.Context, st store.Users, fixtures []UserFixture) error {
	for _, f := range fixtures {
		u, err := f.ToUser()
		if err != nil {
			return err
		}
		if err := st.PutUser(ctx, u); err != nil {
			return fmt.Errorf("seed user %s: %w", f.ID, err)
		}
	}
	return nil
}
