-- The tables every metered request inserts into, rebuilt with fewer B-trees (SPEC §11; see
-- docs/stores.md "Fewer B-trees per metered write"):
-- - keyed by their (time-ordered, v7) id WITHOUT ROWID: the row lives in its primary key, so one
--   B-tree instead of a rowid table plus a separate index on `id`;
-- - the idempotency key unique only where there is one (a partial index): a request without a
--   key no longer adds an entry for its NULL key.
-- Neither table is referenced by a foreign key, so dropping and renaming them is safe inside the
-- migration's transaction (foreign keys stay on).

CREATE TABLE usage_records_rebuilt (
    id              BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    units           INTEGER NOT NULL CHECK (units > 0),
    reason          TEXT NOT NULL,
    idempotency_key TEXT,
    resource_id     BLOB,
    refunded        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    request_hash    TEXT
) WITHOUT ROWID;
INSERT INTO usage_records_rebuilt
    (id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash)
    SELECT id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash
    FROM usage_records;
DROP TABLE usage_records;
ALTER TABLE usage_records_rebuilt RENAME TO usage_records;
CREATE UNIQUE INDEX usage_records_user_key ON usage_records (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX usage_records_user_newest ON usage_records (user_id, created_at DESC);

CREATE TABLE sessions_rebuilt (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sessions_rebuilt (id, user_id, title, created_at)
    SELECT id, user_id, title, created_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_rebuilt RENAME TO sessions;
CREATE INDEX sessions_user_newest ON sessions (user_id, created_at DESC, id DESC);
