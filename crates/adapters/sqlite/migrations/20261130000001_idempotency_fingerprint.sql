-- A hash of the request an idempotency key first came with: the same key with another request
-- is refused (IDEMPOTENCY_KEY_MISMATCH) instead of replaying the first answer.
ALTER TABLE usage_records ADD COLUMN request_hash TEXT;
