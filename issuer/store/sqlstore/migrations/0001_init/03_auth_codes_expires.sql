CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
