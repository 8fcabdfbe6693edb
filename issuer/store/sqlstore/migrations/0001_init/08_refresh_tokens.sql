CREATE TABLE refresh_tokens (
    hash        TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    parent_hash TEXT NOT NULL DEFAULT '',
    child_hash  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    rotated_at  BIGINT NOT NULL DEFAULT 0
);
