-- codexauth schema, version 1. Every secret column holds store.Hash(secret), never the secret.
-- Times are Unix nanoseconds (BIGINT); 0 means "not set".
CREATE TABLE users (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL -- store.User as JSON
);
