// Package store defines the issuer's persistence contract. Every backend
// (memory, SQLite, PostgreSQL) implements Store and passes the same
// behavioural suite in storetest.
//
// Two rules shape the interface:
//   - Secrets (codes, refresh tokens, device ids, session ids) are only ever
//     handed to the store as hashes (see Hash); no backend sees a plaintext.
//   - Every one-time step (consuming a code, claiming a device code, rotating a
//     refresh token) is a single method that a backend performs atomically, so
//     correctness under concurrency never depends on the caller.
//
// Errors: the sentinel errors below carry protocol meaning. Any other error is
// an outage and must be reported to clients as transient, never as a token
// error.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

// Sentinel errors. Backends return them (possibly wrapped) for the documented
// conditions; everything else is an infrastructure failure.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrExpired     = errors.New("store: expired")
	ErrAlreadyUsed = errors.New("store: already used")
	ErrConflict    = errors.New("store: conflict")
	ErrPending     = errors.New("store: authorization pending")
	ErrDenied      = errors.New("store: authorization denied")
	ErrRevoked     = errors.New("store: revoked")
)

// IsSemantic reports whether err is one of the sentinel errors, that is a
// fact about the data rather than a failure of the store.
func IsSemantic(err error) bool {
	for _, s := range []error{ErrNotFound, ErrExpired, ErrAlreadyUsed, ErrConflict, ErrPending, ErrDenied, ErrRevoked} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// Hash is how every secret is keyed at rest: unpadded base64url of SHA-256.
// The inputs are high-entropy random values, so an unsalted fast hash is the
// right tool (a slow KDF would only cost latency).
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Store is the whole persistence contract of the issuer.
type Store interface {
	Users
	AuthCodes
	DeviceCodes
	RefreshTokens
	AccessTokens
	Sessions
	SigningKeys
	Secrets
	AgentIdentities
	PersonalAccessTokens

	// DeleteExpired removes rows that can no longer matter at now (expired
	// codes, sessions, long-dead families) and reports how many went.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

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

// AuthCode is an authorization code (RFC 6749 §4.1) bound to its client,
// redirect URI and PKCE challenge (RFC 7636).
type AuthCode struct {
	Hash          string
	ClientID      string
	RedirectURI   string
	CodeChallenge string
	Scope         string
	UserID        string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	// UsedAt is set by ConsumeAuthCode. FamilyID names the token family the
	// first exchange created, so a replayed code can revoke it (RFC 6749 §4.1.2).
	UsedAt   time.Time
	FamilyID string
}

// AuthCodes holds authorization codes.
type AuthCodes interface {
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// ConsumeAuthCode atomically marks the code used and records familyID.
	// A code used before returns the stored code and ErrAlreadyUsed; an
	// expired one ErrExpired; an unknown one ErrNotFound.
	ConsumeAuthCode(ctx context.Context, hash string, now time.Time, familyID string) (AuthCode, error)
}

// DeviceStatus is where a device authorization stands.
type DeviceStatus string

// Device statuses.
const (
	DevicePending   DeviceStatus = "pending"
	DeviceApproved  DeviceStatus = "approved"
	DeviceDenied    DeviceStatus = "denied"
	DeviceExchanged DeviceStatus = "exchanged"
)

// DeviceCode is one device authorization (codex's variant of RFC 8628).
type DeviceCode struct {
	IDHash       string
	UserCodeHash string
	ClientID     string
	Status       DeviceStatus
	UserID       string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	DecidedAt    time.Time
}

// DeviceCodes holds device authorizations.
type DeviceCodes interface {
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	GetDeviceCode(ctx context.Context, idHash string) (DeviceCode, error)
	GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string) (DeviceCode, error)
	// DecideDeviceCode moves a pending, unexpired code to approved (for
	// userID) or denied. ErrConflict when it was decided already.
	DecideDeviceCode(ctx context.Context, userCodeHash string, approve bool, userID string, now time.Time) (DeviceCode, error)
	// ClaimDeviceCode atomically moves an approved code to exchanged and
	// returns it: exactly one caller ever succeeds. Otherwise ErrPending,
	// ErrDenied, ErrExpired, ErrAlreadyUsed or ErrNotFound.
	ClaimDeviceCode(ctx context.Context, idHash string, now time.Time) (DeviceCode, error)
}

// Family is a chain of refresh tokens descending from one login.
type Family struct {
	ID           string
	UserID       string
	ClientID     string
	Scope        string
	CreatedAt    time.Time
	RevokedAt    time.Time
	RevokeReason string
}

// Revoked reports whether the family is dead.
func (f Family) Revoked() bool { return !f.RevokedAt.IsZero() }

// RefreshToken is one link of a family. Only the newest unrotated link is live.
type RefreshToken struct {
	Hash       string
	FamilyID   string
	ParentHash string
	ChildHash  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RotatedAt  time.Time
}

// RotateOutcome is what RotateRefreshToken decided.
type RotateOutcome int

// Outcomes of a rotation attempt.
const (
	// Rotated: the presented token was live; Child is its new successor.
	Rotated RotateOutcome = iota + 1
	// GraceReplay: the presented token was rotated to ChildHash within the
	// grace window and that child is still the live tip; hand it out again.
	GraceReplay
	// Reused: a rotated-out token was presented; the family is now revoked.
	Reused
	// FamilyRevoked: the presented token belongs to a revoked family.
	FamilyRevoked
	// Expired: the presented token outlived its lifetime.
	Expired
	// Unknown: no such token.
	Unknown
	// WrongClient: the token belongs to another client; nothing changed.
	WrongClient
)

func (o RotateOutcome) String() string {
	switch o {
	case Rotated:
		return "rotated"
	case GraceReplay:
		return "grace-replay"
	case Reused:
		return "reused"
	case FamilyRevoked:
		return "family-revoked"
	case Expired:
		return "expired"
	case Unknown:
		return "unknown"
	case WrongClient:
		return "wrong-client"
	}
	return "invalid"
}

// RotateParams describe one rotation attempt.
type RotateParams struct {
	PresentedHash string
	// ChildHash is the hash of the successor the caller will hand out. The
	// caller derives the successor deterministically from the presented
	// token, so a grace replay can return the very same child.
	ChildHash      string
	ChildExpiresAt time.Time
	Now            time.Time
	Grace          time.Duration
	// ClientID, when set, must own the family; a mismatch changes nothing.
	ClientID string
	// NoFamilyRevoke exists only for the fault catalogue.
	NoFamilyRevoke bool
}

// RotateResult reports the outcome with the records involved.
type RotateResult struct {
	Outcome   RotateOutcome
	Family    Family
	Presented RefreshToken
	Child     RefreshToken
}

// RefreshTokens holds token families.
type RefreshTokens interface {
	CreateFamily(ctx context.Context, f Family, first RefreshToken) error
	GetRefreshToken(ctx context.Context, hash string) (RefreshToken, Family, error)
	GetFamily(ctx context.Context, id string) (Family, error)
	ListFamilies(ctx context.Context, userID string) ([]Family, error)
	// RotateRefreshToken performs one rotation attempt atomically; see
	// RotateOutcome for what it may decide. A non-nil error is an outage.
	RotateRefreshToken(ctx context.Context, p RotateParams) (RotateResult, error)
	// RevokeFamily marks the family revoked (idempotent; the first reason wins).
	RevokeFamily(ctx context.Context, familyID, reason string, now time.Time) error
}

// AccessTokenRecord remembers an issued access token so it can be revoked
// and validated (the JWT itself is self-contained; revocation is not).
type AccessTokenRecord struct {
	JTI       string
	FamilyID  string
	UserID    string
	ClientID  string
	IssuedAt  time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// AccessTokens holds access-token records.
type AccessTokens interface {
	RecordAccessToken(ctx context.Context, r AccessTokenRecord) error
	// GetAccessToken returns the record; RevokedAt is set when the token or
	// its family was revoked.
	GetAccessToken(ctx context.Context, jti string) (AccessTokenRecord, error)
	RevokeAccessToken(ctx context.Context, jti string, now time.Time) error
}

// Session is a browser sign-in at the issuer.
type Session struct {
	IDHash    string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Sessions holds browser sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns a live session; ErrNotFound or ErrExpired otherwise.
	GetSession(ctx context.Context, idHash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, idHash string) error
}

// SigningKey is one RSA key of the issuer, PEM-encoded (possibly encrypted
// by the key manager; the store never interprets it).
type SigningKey struct {
	KID        string
	Algorithm  string
	PrivatePEM []byte
	CreatedAt  time.Time
	// RetiredAt is when the key stopped signing (zero while active).
	RetiredAt time.Time
	// DropAfter is when the key leaves the JWKS: every token it signed has
	// expired by then.
	DropAfter time.Time
}

// Active reports whether the key signs new tokens.
func (k SigningKey) Active() bool { return k.RetiredAt.IsZero() }

// SigningKeys holds the issuer's signing keys.
type SigningKeys interface {
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// EnsureActiveSigningKey inserts candidate only when no active key
	// exists and returns the active key: replicas starting together on an
	// empty store end with exactly one.
	EnsureActiveSigningKey(ctx context.Context, candidate SigningKey) (SigningKey, error)
	// RotateSigningKey retires the active key (its DropAfter set to
	// dropAfter) and makes next the active key, atomically.
	RotateSigningKey(ctx context.Context, next SigningKey, now, dropAfter time.Time) error
}

// Secrets holds server-side secrets shared by replicas (for example the key
// that derives refresh-token successors).
type Secrets interface {
	// GetOrCreateSecret returns the stored secret called name, storing
	// candidate first if there is none. Atomic across replicas.
	GetOrCreateSecret(ctx context.Context, name string, candidate []byte) ([]byte, error)
}

// AgentIdentity is a registered agent runtime and its public key.
type AgentIdentity struct {
	RuntimeID string
	UserID    string
	AccountID string
	PublicKey []byte // raw Ed25519 public key
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// AgentTask is a task an agent registered.
type AgentTask struct {
	TaskID    string
	RuntimeID string
	// Nonce is the registration's timestamp and signature, unique per agent,
	// so a captured registration cannot be replayed.
	Nonce     string
	CreatedAt time.Time
}

// AgentIdentities holds agent identities, their tasks, and used assertions.
type AgentIdentities interface {
	CreateAgentIdentity(ctx context.Context, a AgentIdentity) error
	GetAgentIdentity(ctx context.Context, runtimeID string) (AgentIdentity, error)
	ListAgentIdentities(ctx context.Context) ([]AgentIdentity, error)
	RevokeAgentIdentity(ctx context.Context, runtimeID string, now time.Time) error
	// CreateAgentTask records a task; ErrConflict if the nonce was used.
	CreateAgentTask(ctx context.Context, t AgentTask) error
	GetAgentTask(ctx context.Context, taskID string) (AgentTask, error)
	ListAgentTasks(ctx context.Context, runtimeID string) ([]AgentTask, error)
	// UseNonce records a one-time value until expiresAt; ErrAlreadyUsed if
	// it was recorded before. Used for AgentAssertion replay protection.
	UseNonce(ctx context.Context, nonce string, expiresAt time.Time) error
}

// PersonalAccessToken is an "at-…" token codex resolves through whoami (§9.1).
type PersonalAccessToken struct {
	Hash      string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// PersonalAccessTokens holds personal access tokens (hashed).
type PersonalAccessTokens interface {
	CreatePAT(ctx context.Context, p PersonalAccessToken) error
	// GetPAT returns the token record whatever its state; callers check
	// expiry and revocation.
	GetPAT(ctx context.Context, hash string) (PersonalAccessToken, error)
	RevokePAT(ctx context.Context, hash string, now time.Time) error
}
