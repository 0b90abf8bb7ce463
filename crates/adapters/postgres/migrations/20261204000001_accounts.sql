-- Accounts (SPEC §13): who pays is an account — a user's personal one, or an organisation whose
-- members share one pool. Every existing user gets a personal account whose id is the user's
-- own id, and it takes over everything the user paid with: the subscription (with its Stripe
-- ids and counters), the usage records, sessions and reservations. Nothing is deleted; rows keep
-- their ids. See docs/accounts.md.

CREATE TABLE accounts (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    -- personal, organisation
    kind       TEXT NOT NULL CHECK (kind IN ('personal', 'organisation')),
    created_at TIMESTAMPTZ NOT NULL
);

-- A member's counters are their share of the pool: `runs_used` this period and `runs_reserved`
-- by their live holds, moved in the same statements as the account's (and zeroed with them when
-- a period starts). Kept for organisations; a personal account's one member's use is the
-- account's.
CREATE TABLE memberships (
    account_id    UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- owner, admin, member
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    runs_cap      BIGINT CHECK (runs_cap IS NULL OR runs_cap >= 0),
    runs_used     BIGINT NOT NULL DEFAULT 0 CHECK (runs_used >= 0),
    runs_reserved BIGINT NOT NULL DEFAULT 0 CHECK (runs_reserved >= 0),
    joined_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE invitations (
    id          UUID PRIMARY KEY,
    account_id  UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    -- SHA-256 of the token; the token itself is shown once, to the admin who invited.
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    accepted_by UUID REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX invitations_by_account ON invitations (account_id, created_at);

INSERT INTO accounts (id, name, kind, created_at)
    SELECT id, CASE WHEN trim(fullname) = '' THEN email ELSE left(fullname, 100) END, 'personal', created_at
    FROM users;
INSERT INTO memberships (account_id, user_id, role, runs_cap, runs_used, runs_reserved, joined_at)
    SELECT id, id, 'owner', NULL, 0, 0, created_at FROM users;

ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_user_id_fkey;
ALTER TABLE subscriptions RENAME COLUMN user_id TO account_id;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_account_id_fkey
    FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE;

-- Who paid (the account) and who ran it (the member; none for an account's own use through the
-- service API). An idempotency key is the paying account's.
ALTER TABLE usage_records ADD COLUMN account_id UUID;
UPDATE usage_records SET account_id = user_id;
ALTER TABLE usage_records ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE usage_records ADD CONSTRAINT usage_records_account_id_fkey
    FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE;
ALTER TABLE usage_records ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE usage_records DROP CONSTRAINT usage_records_user_id_fkey;
ALTER TABLE usage_records ADD CONSTRAINT usage_records_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;
DROP INDEX usage_records_user_key;
DROP INDEX usage_records_user_newest;
CREATE UNIQUE INDEX usage_records_account_key ON usage_records (account_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX usage_records_account_newest ON usage_records (account_id, created_at DESC);

ALTER TABLE sessions ADD COLUMN account_id UUID;
UPDATE sessions SET account_id = user_id;
ALTER TABLE sessions ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_account_id_fkey
    FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE;
DROP INDEX sessions_user_newest;
CREATE INDEX sessions_user_newest ON sessions (user_id, account_id, created_at DESC, id DESC);

ALTER TABLE reservations ADD COLUMN account_id UUID;
UPDATE reservations SET account_id = user_id;
ALTER TABLE reservations ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE reservations ADD CONSTRAINT reservations_account_id_fkey
    FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE;
ALTER TABLE reservations ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE reservations DROP CONSTRAINT reservations_user_id_fkey;
ALTER TABLE reservations ADD CONSTRAINT reservations_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE reservations DROP CONSTRAINT reservations_user_id_idempotency_key_key;
DROP INDEX reservations_held_by_user;
CREATE UNIQUE INDEX reservations_account_key ON reservations (account_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX reservations_held_by_account ON reservations (account_id, status, expires_at);

ALTER TABLE audit_log ADD COLUMN target_account_id UUID;
UPDATE audit_log SET target_account_id = target_user_id WHERE target_user_id IS NOT NULL;
