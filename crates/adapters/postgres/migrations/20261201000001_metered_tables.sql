-- The idempotency key is unique only where there is one (a partial index, as on SQLite): a
-- metered request without a key no longer adds an index entry for its NULL key (SPEC §11).
CREATE UNIQUE INDEX usage_records_user_key ON usage_records (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
ALTER TABLE usage_records DROP CONSTRAINT usage_records_user_id_idempotency_key_key;
