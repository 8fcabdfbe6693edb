-- The schema exactly as the statement splitter of schema versions 1 and 2 applied it (comments cut, split on ';'),
-- generated from migrations/0001_init.sql and 0002_personal_access_tokens.sql before they became one statement per
-- file. TestSQLiteLegacyDatabase opens a database built from it: the bookkeeping and the schema must carry over.
CREATE TABLE users (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL 
);
CREATE TABLE auth_codes (
    hash           TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope          TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT NOT NULL DEFAULT 0,
    family_id      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
CREATE TABLE device_codes (
    id_hash        TEXT PRIMARY KEY,
    user_code_hash TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    status         TEXT NOT NULL,
    user_id        TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    decided_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX device_codes_user_code ON device_codes (user_code_hash, created_at);
CREATE TABLE families (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    scope         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT NOT NULL DEFAULT 0,
    revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX families_user ON families (user_id);
CREATE TABLE refresh_tokens (
    hash        TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    parent_hash TEXT NOT NULL DEFAULT '',
    child_hash  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    rotated_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE TABLE access_tokens (
    jti        TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_pem BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT NOT NULL DEFAULT 0,
    drop_after  BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (retired_at) WHERE retired_at = 0;
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE agent_identities (
    runtime_id TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    account_id TEXT NOT NULL,
    public_key BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE agent_tasks (
    task_id    TEXT PRIMARY KEY,
    runtime_id TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (runtime_id, nonce)
);
CREATE TABLE used_nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE TABLE personal_access_tokens (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
