-- Reservations (SPEC §7.2): runs held for work of unknown cost. Held runs count against the
-- quota through subscriptions.runs_reserved, kept in the same transactions as the holds.
ALTER TABLE subscriptions ADD COLUMN runs_reserved BIGINT NOT NULL DEFAULT 0 CHECK (runs_reserved >= 0);

CREATE TABLE reservations (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    runs            BIGINT NOT NULL CHECK (runs > 0),
    committed_runs  BIGINT CHECK (committed_runs IS NULL OR committed_runs >= 0),
    -- held, committed, released, expired
    status          TEXT NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    idempotency_key TEXT,
    request_hash    TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX reservations_held_by_user ON reservations (user_id, status, expires_at);
CREATE INDEX reservations_due ON reservations (status, expires_at);
