CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
