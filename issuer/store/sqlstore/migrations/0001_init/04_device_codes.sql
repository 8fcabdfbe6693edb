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
