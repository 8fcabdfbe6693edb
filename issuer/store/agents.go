package store

import (
	"context"
	"time"
)

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
