package store

import (
	"context"
	"time"
)

// Failing wraps a Store so that every call first asks Fail; a non-nil
// answer is returned as the call's error. It simulates outages.
type Failing struct {
	Store
	Fail func() error
}

var _ Store = (*Failing)(nil)

func (fs *Failing) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	if err := fs.Fail(); err != nil {
		return 0, err
	}
	return fs.Store.DeleteExpired(ctx, now)
}

func (fs *Failing) Ping(ctx context.Context) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.Ping(ctx)
}

func (fs *Failing) PutUser(ctx context.Context, u User) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.PutUser(ctx, u)
}

func (fs *Failing) GetUser(ctx context.Context, id string) (User, error) {
	if err := fs.Fail(); err != nil {
		return User{}, err
	}
	return fs.Store.GetUser(ctx, id)
}

func (fs *Failing) ListUsers(ctx context.Context) ([]User, error) {
	if err := fs.Fail(); err != nil {
		return nil, err
	}
	return fs.Store.ListUsers(ctx)
}

func (fs *Failing) DeleteUser(ctx context.Context, id string) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.DeleteUser(ctx, id)
}

func (fs *Failing) CreateAuthCode(ctx context.Context, c AuthCode) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.CreateAuthCode(ctx, c)
}

func (fs *Failing) ConsumeAuthCode(ctx context.Context, hash string, now time.Time, familyID string) (AuthCode, error) {
	if err := fs.Fail(); err != nil {
		return AuthCode{}, err
	}
	return fs.Store.ConsumeAuthCode(ctx, hash, now, familyID)
}

func (fs *Failing) CreateDeviceCode(ctx context.Context, d DeviceCode) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.CreateDeviceCode(ctx, d)
}

func (fs *Failing) GetDeviceCode(ctx context.Context, idHash string) (DeviceCode, error) {
	if err := fs.Fail(); err != nil {
		return DeviceCode{}, err
	}
	return fs.Store.GetDeviceCode(ctx, idHash)
}

func (fs *Failing) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string) (DeviceCode, error) {
	if err := fs.Fail(); err != nil {
		return DeviceCode{}, err
	}
	return fs.Store.GetDeviceCodeByUserCode(ctx, userCodeHash)
}

func (fs *Failing) DecideDeviceCode(ctx context.Context, userCodeHash string, approve bool, userID string, now time.Time) (DeviceCode, error) {
	if err := fs.Fail(); err != nil {
		return DeviceCode{}, err
	}
	return fs.Store.DecideDeviceCode(ctx, userCodeHash, approve, userID, now)
}

func (fs *Failing) ClaimDeviceCode(ctx context.Context, idHash string, now time.Time) (DeviceCode, error) {
	if err := fs.Fail(); err != nil {
		return DeviceCode{}, err
	}
	return fs.Store.ClaimDeviceCode(ctx, idHash, now)
}

func (fs *Failing) CreateFamily(ctx context.Context, f Family, first RefreshToken) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.CreateFamily(ctx, f, first)
}

func (fs *Failing) GetRefreshToken(ctx context.Context, hash string) (RefreshToken, Family, error) {
	if err := fs.Fail(); err != nil {
		return RefreshToken{}, Family{}, err
	}
	return fs.Store.GetRefreshToken(ctx, hash)
}

func (fs *Failing) GetFamily(ctx context.Context, id string) (Family, error) {
	if err := fs.Fail(); err != nil {
		return Family{}, err
	}
	return fs.Store.GetFamily(ctx, id)
}

func (fs *Failing) ListFamilies(ctx context.Context, userID string) ([]Family, error) {
	if err := fs.Fail(); err != nil {
		return nil, err
	}
	return fs.Store.ListFamilies(ctx, userID)
}

func (fs *Failing) RotateRefreshToken(ctx context.Context, p RotateParams) (RotateResult, error) {
	if err := fs.Fail(); err != nil {
		return RotateResult{}, err
	}
	return fs.Store.RotateRefreshToken(ctx, p)
}

func (fs *Failing) RevokeFamily(ctx context.Context, familyID, reason string, now time.Time) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.RevokeFamily(ctx, familyID, reason, now)
}

func (fs *Failing) RecordAccessToken(ctx context.Context, r AccessTokenRecord) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.RecordAccessToken(ctx, r)
}

func (fs *Failing) GetAccessToken(ctx context.Context, jti string) (AccessTokenRecord, error) {
	if err := fs.Fail(); err != nil {
		return AccessTokenRecord{}, err
	}
	return fs.Store.GetAccessToken(ctx, jti)
}

func (fs *Failing) RevokeAccessToken(ctx context.Context, jti string, now time.Time) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.RevokeAccessToken(ctx, jti, now)
}

func (fs *Failing) CreateSession(ctx context.Context, s Session) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.CreateSession(ctx, s)
}

func (fs *Failing) GetSession(ctx context.Context, idHash string, now time.Time) (Session, error) {
	if err := fs.Fail(); err != nil {
		return Session{}, err
	}
	return fs.Store.GetSession(ctx, idHash, now)
}

func (fs *Failing) DeleteSession(ctx context.Context, idHash string) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.DeleteSession(ctx, idHash)
}

func (fs *Failing) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	if err := fs.Fail(); err != nil {
		return nil, err
	}
	return fs.Store.ListSigningKeys(ctx)
}

func (fs *Failing) EnsureActiveSigningKey(ctx context.Context, candidate SigningKey) (SigningKey, error) {
	if err := fs.Fail(); err != nil {
		return SigningKey{}, err
	}
	return fs.Store.EnsureActiveSigningKey(ctx, candidate)
}

func (fs *Failing) RotateSigningKey(ctx context.Context, next SigningKey, now, dropAfter time.Time) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.RotateSigningKey(ctx, next, now, dropAfter)
}

func (fs *Failing) GetOrCreateSecret(ctx context.Context, name string, candidate []byte) ([]byte, error) {
	if err := fs.Fail(); err != nil {
		return nil, err
	}
	return fs.Store.GetOrCreateSecret(ctx, name, candidate)
}

func (fs *Failing) CreateAgentIdentity(ctx context.Context, a AgentIdentity) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.CreateAgentIdentity(ctx, a)
}

func (fs *Failing) GetAgentIdentity(ctx context.Context, runtimeID string) (AgentIdentity, error) {
	if err := fs.Fail(); err != nil {
		return AgentIdentity{}, err
	}
	return fs.Store.GetAgentIdentity(ctx, runtimeID)
}

func (fs *Failing) ListAgentIdentities(ctx context.Context) ([]AgentIdentity, error) {
	if err := fs.Fail(); err != nil {
		return nil, err
	}
	return fs.Store.ListAgentIdentities(ctx)
}

func (fs *Failing) RevokeAgentIdentity(ctx context.Context, runtimeID string, now time.Time) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.RevokeAgentIdentity(ctx, runtimeID, now)
}

func (fs *Failing) CreateAgentTask(ctx context.Context, t AgentTask) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.CreateAgentTask(ctx, t)
}

func (fs *Failing) GetAgentTask(ctx context.Context, taskID string) (AgentTask, error) {
	if err := fs.Fail(); err != nil {
		return AgentTask{}, err
	}
	return fs.Store.GetAgentTask(ctx, taskID)
}

func (fs *Failing) ListAgentTasks(ctx context.Context, runtimeID string) ([]AgentTask, error) {
	if err := fs.Fail(); err != nil {
		return nil, err
	}
	return fs.Store.ListAgentTasks(ctx, runtimeID)
}

func (fs *Failing) UseNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.UseNonce(ctx, nonce, expiresAt)
}

func (fs *Failing) CreatePAT(ctx context.Context, p PersonalAccessToken) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.CreatePAT(ctx, p)
}

func (fs *Failing) GetPAT(ctx context.Context, hash string) (PersonalAccessToken, error) {
	if err := fs.Fail(); err != nil {
		return PersonalAccessToken{}, err
	}
	return fs.Store.GetPAT(ctx, hash)
}

func (fs *Failing) RevokePAT(ctx context.Context, hash string, now time.Time) error {
	if err := fs.Fail(); err != nil {
		return err
	}
	return fs.Store.RevokePAT(ctx, hash, now)
}
