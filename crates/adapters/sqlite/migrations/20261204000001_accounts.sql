-- Accounts (SPEC §13): who pays is an account — a user's personal one, or an organisation whose
-- members share one pool. Every existing user gets a personal account whose id is the user's
-- own id, and it takes over everything the user paid with: the subscription (with its Stripe
-- ids and counters), the usage records, sessions and reservations. Nothing is deleted; rows keep
-- their ids. See docs/accounts.md.
--
-- The tables that change owner (subscriptions, usage_records, reservations, sessions) are rebuilt:
-- SQLite cannot repoint a foreign key or relax NOT NULL in place. None of them is referenced by a
-- foreign key, so dropping and renaming them is safe inside the migration's transaction.

CREATE TABLE accounts (
    id         BLOB PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    -- personal, organisation
    kind       TEXT NOT NULL CHECK (kind IN ('personal', 'organisation')),
    created_at INTEGER NOT NULL
);

-- A member's counters are their share of the pool: `runs_used` this period and `runs_reserved`
-- by their live holds, moved in the same statements as the account's (and zeroed with them when
-- a period starts). Kept for organisations; a personal account's one member's use is the
-- account's.
CREATE TABLE memberships (
    account_id    BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- owner, admin, member
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    runs_cap      INTEGER CHECK (runs_cap IS NULL OR runs_cap >= 0),
    runs_used     INTEGER NOT NULL DEFAULT 0 CHECK (runs_used >= 0),
    runs_reserved INTEGER NOT NULL DEFAULT 0 CHECK (runs_reserved >= 0),
    joined_at     INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE invitations (
    id          BLOB PRIMARY KEY NOT NULL,
    account_id  BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    -- SHA-256 of the token; the token itself is shown once, to the admin who invited.
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    accepted_by BLOB REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX invitations_by_account ON invitations (account_id, created_at);

INSERT INTO accounts (id, name, kind, created_at)
    SELECT id, CASE WHEN trim(fullname) = '' THEN email ELSE substr(fullname, 1, 100) END, 'personal', created_at
    FROM users;
INSERT INTO memberships (account_id, user_id, role, runs_cap, runs_used, runs_reserved, joined_at)
    SELECT id, id, 'owner', NULL, 0, 0, created_at FROM users;

CREATE TABLE subscriptions_rebuilt (
    id                     BLOB PRIMARY KEY NOT NULL,
    account_id             BLOB NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
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
    runs_reserved          INTEGER NOT NULL DEFAULT 0 CHECK (runs_reserved >= 0),
    runs_granted           INTEGER NOT NULL DEFAULT 0 CHECK (runs_granted >= 0),
    CHECK (period_end > period_start)
);
INSERT INTO subscriptions_rebuilt
    SELECT id, user_id, plan, status, runs_used, period_start, period_end, period_anchor, limit_override,
           cancel_at_period_end, trial_started_at, trial_ends_at, trial_used, has_paid, past_due_since,
           stripe_customer_id, stripe_subscription_id, stripe_granted, stripe_last_event_at, version,
           created_at, updated_at, runs_reserved, runs_granted
    FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_rebuilt RENAME TO subscriptions;

-- Who paid (the account) and who ran it (the member; none for an account's own use through the
-- service API). An idempotency key is the paying account's.
CREATE TABLE usage_records_rebuilt (
    id              BLOB PRIMARY KEY NOT NULL,
    account_id      BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id         BLOB REFERENCES users (id) ON DELETE SET NULL,
    units           INTEGER NOT NULL CHECK (units > 0),
    reason          TEXT NOT NULL,
    idempotency_key TEXT,
    resource_id     BLOB,
    refunded        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    request_hash    TEXT
) WITHOUT ROWID;
INSERT INTO usage_records_rebuilt
    (id, account_id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash)
    SELECT id, user_id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash
    FROM usage_records;
DROP TABLE usage_records;
ALTER TABLE usage_records_rebuilt RENAME TO usage_records;
CREATE UNIQUE INDEX usage_records_account_key ON usage_records (account_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX usage_records_account_newest ON usage_records (account_id, created_at DESC);
CREATE INDEX usage_records_keyed_at ON usage_records (created_at) WHERE idempotency_key IS NOT NULL;

CREATE TABLE sessions_rebuilt (
    id         BLOB PRIMARY KEY NOT NULL,
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sessions_rebuilt (id, account_id, user_id, title, created_at)
    SELECT id, user_id, user_id, title, created_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_rebuilt RENAME TO sessions;
CREATE INDEX sessions_user_newest ON sessions (user_id, account_id, created_at DESC, id DESC);

CREATE TABLE reservations_rebuilt (
    id              BLOB PRIMARY KEY NOT NULL,
    account_id      BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id         BLOB REFERENCES users (id) ON DELETE SET NULL,
    runs            INTEGER NOT NULL CHECK (runs > 0),
    committed_runs  INTEGER CHECK (committed_runs IS NULL OR committed_runs >= 0),
    -- held, committed, released, expired
    status          TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    idempotency_key TEXT,
    request_hash    TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
INSERT INTO reservations_rebuilt
    (id, account_id, user_id, runs, committed_runs, status, expires_at, idempotency_key, request_hash, created_at, updated_at)
    SELECT id, user_id, user_id, runs, committed_runs, status, expires_at, idempotency_key, request_hash, created_at, updated_at
    FROM reservations;
DROP TABLE reservations;
ALTER TABLE reservations_rebuilt RENAME TO reservations;
CREATE UNIQUE INDEX reservations_account_key ON reservations (account_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX reservations_held_by_account ON reservations (account_id, status, expires_at);
CREATE INDEX reservations_due ON reservations (status, expires_at);
CREATE INDEX reservations_keyed_at ON reservations (created_at) WHERE idempotency_key IS NOT NULL;
CREATE INDEX reservations_settled ON reservations (updated_at) WHERE status IN ('released', 'expired');

ALTER TABLE audit_log ADD COLUMN target_account_id BLOB;
UPDATE audit_log SET target_account_id = target_user_id WHERE target_user_id IS NOT NULL;
