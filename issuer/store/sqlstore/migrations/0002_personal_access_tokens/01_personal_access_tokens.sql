-- codexauth schema, version 2: personal access tokens ("at-…", contract §9.1), stored as hashes.
CREATE TABLE personal_access_tokens (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
