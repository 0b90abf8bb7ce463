-- Tollgate schema, SQLite dialect. Timestamps are INTEGER microseconds since the Unix epoch
-- (UTC; they sort and compare numerically), ids 16-byte BLOB UUIDs, booleans 0/1.

CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL,
    fullname      TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE subscriptions (
    id                     BLOB PRIMARY KEY NOT NULL,
    user_id                BLOB NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    plan                   TEXT NOT NULL,
    status                 TEXT NOT NULL,
    runs_used              INTEGER NOT NULL DEFAULT 0 CHECK (runs_used >= 0),
    period_start           INTEGER NOT NULL,
    period_end             INTEGER NOT NULL,
    period_anchor          INTEGER NOT NULL,
    -- NULL: the plan's limit; -1: unlimited; n >= 0: n runs.
    limit_override         INTEGER CHECK (limit_override IS NULL OR limit_override >= -1),
    cancel_at_period_end   INTEGER NOT NULL DEFAULT 0,
    trial_started_at       INTEGER,
    trial_ends_at          INTEGER,
    trial_used             INTEGER NOT NULL DEFAULT 0,
    has_paid               INTEGER NOT NULL DEFAULT 0,
    past_due_since         INTEGER,
    stripe_customer_id     TEXT UNIQUE,
    stripe_subscription_id TEXT UNIQUE,
    stripe_granted         INTEGER NOT NULL DEFAULT 0,
    stripe_last_event_at   INTEGER,
    version                INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    CHECK (period_end > period_start)
);

CREATE TABLE sessions (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX sessions_user_newest ON sessions (user_id, created_at DESC, id DESC);

CREATE TABLE usage_records (
    id              BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    units           INTEGER NOT NULL CHECK (units > 0),
    reason          TEXT NOT NULL,
    idempotency_key TEXT,
    resource_id     BLOB,
    refunded        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX usage_records_user_newest ON usage_records (user_id, created_at DESC);

CREATE TABLE refresh_tokens (
    id         BLOB PRIMARY KEY NOT NULL,
    family_id  BLOB NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE webhook_events (
    event_id    TEXT PRIMARY KEY NOT NULL,
    event_type  TEXT NOT NULL,
    created     INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL
);
