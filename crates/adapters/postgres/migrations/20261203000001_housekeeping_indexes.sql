-- Housekeeping in bounded chunks (SPEC §12.1): each chunk of a purge or of the idempotency-key
-- expiry finds its rows through an index instead of scanning the table. The partial indexes hold
-- only the rows a purge looks for (keyed records, settled holds), so a metered write without a
-- key adds no index entry.
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX webhook_events_received ON webhook_events (received_at);
CREATE INDEX usage_records_keyed_at ON usage_records (created_at) WHERE idempotency_key IS NOT NULL;
CREATE INDEX reservations_keyed_at ON reservations (created_at) WHERE idempotency_key IS NOT NULL;
CREATE INDEX reservations_settled ON reservations (updated_at) WHERE status IN ('released', 'expired');
