-- A service key's first characters (to tell keys apart in `tollgate key list`) and its last use.
-- Keys made before this keep NULL for both until they are next used (the prefix stays NULL: only
-- a hash of those keys exists).
ALTER TABLE service_keys ADD COLUMN IF NOT EXISTS prefix TEXT;
ALTER TABLE service_keys ADD COLUMN IF NOT EXISTS last_used_at TIMESTAMPTZ;
