-- Tollgate schema, Postgres dialect. Timestamps are TIMESTAMPTZ (UTC), ids UUID.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    fullname      TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
-- Emails are stored lower-cased; the index makes uniqueness case-insensitive regardless.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE subscriptions (
    id                     UUID PRIMARY KEY,
    user_id                UUID NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    plan                   TEXT NOT NULL,
    status                 TEXT NOT NULL,
    runs_used              BIGINT NOT NULL DEFAULT 0 CHECK (runs_used >= 0),
    period_start           TIMESTAMPTZ NOT NULL,
    period_end             TIMESTAMPTZ NOT NULL,
    period_anchor          TIMESTAMPTZ NOT NULL,
    -- NULL: the plan's limit; -1: unlimited; n >= 0: n runs.
    limit_override         BIGINT CHECK (limit_override IS NULL OR limit_override >= -1),
    cancel_at_period_end   BOOLEAN NOT NULL DEFAULT FALSE,
    trial_started_at       TIMESTAMPTZ,
    trial_ends_at          TIMESTAMPTZ,
    trial_used             BOOLEAN NOT NULL DEFAULT FALSE,
    has_paid               BOOLEAN NOT NULL DEFAULT FALSE,
    past_due_since         TIMESTAMPTZ,
    stripe_customer_id     TEXT UNIQUE,
    stripe_subscription_id TEXT UNIQUE,
    stripe_granted         BOOLEAN NOT NULL DEFAULT FALSE,
    -- `created` of the last provider event applied to the linked subscription (ordering rule).
    stripe_last_event_at   TIMESTAMPTZ,
    version                BIGINT NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    CHECK (period_end > period_start)
);

CREATE TABLE sessions (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_newest ON sessions (user_id, created_at DESC, id DESC);

CREATE TABLE usage_records (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    units           BIGINT NOT NULL CHECK (units > 0),
    reason          TEXT NOT NULL,
    idempotency_key TEXT,
    resource_id     UUID,
    refunded        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    -- A retry with the same key by the same user replays; NULL keys never collide.
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX usage_records_user_newest ON usage_records (user_id, created_at DESC);

CREATE TABLE refresh_tokens (
    id         UUID PRIMARY KEY,
    family_id  UUID NOT NULL,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE webhook_events (
    event_id    TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    created     TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    outcome     TEXT NOT NULL
);
