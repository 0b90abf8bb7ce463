-- Operator grants (SPEC §8): extra runs for the current period, cleared when a period starts.
ALTER TABLE subscriptions ADD COLUMN runs_granted INTEGER NOT NULL DEFAULT 0 CHECK (runs_granted >= 0);

-- Every admin change, written in the same transaction as the change. Kept when the user is
-- deleted (no foreign key): the audit outlives what it describes.
CREATE TABLE audit_log (
    -- The order entries were written in (timestamps can tie).
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             BLOB NOT NULL UNIQUE,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    target_user_id BLOB,
    before         TEXT,
    after          TEXT,
    reason         TEXT,
    request_id     TEXT,
    at             INTEGER NOT NULL
);
