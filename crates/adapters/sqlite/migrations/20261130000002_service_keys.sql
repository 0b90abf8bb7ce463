-- Service keys for the service API (SPEC §7.2): only a SHA-256 of each key is kept.
CREATE TABLE service_keys (
    id         BLOB PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL UNIQUE,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
