CREATE TABLE agent_tasks (
    task_id    TEXT PRIMARY KEY,
    runtime_id TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (runtime_id, nonce)
);
