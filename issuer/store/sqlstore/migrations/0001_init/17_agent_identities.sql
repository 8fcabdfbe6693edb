CREATE TABLE agent_identities (
    runtime_id TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    account_id TEXT NOT NULL,
    public_key BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
