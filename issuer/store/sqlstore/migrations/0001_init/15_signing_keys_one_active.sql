-- At most one active key, whatever replicas do concurrently.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (retired_at) WHERE retired_at = 0;
