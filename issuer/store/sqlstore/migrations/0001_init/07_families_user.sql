CREATE INDEX families_user ON families (user_id);
