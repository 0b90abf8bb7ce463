-- Seats (SPEC §13): an account's member count, kept with its memberships (a join or a removal
-- counts them again and moves the version, so no decision is made on the old count). A per-seat
-- plan's pool is its runs × seats. Every account has its owner, so at least one.
ALTER TABLE subscriptions ADD COLUMN seats INTEGER NOT NULL DEFAULT 1 CHECK (seats >= 1);
UPDATE subscriptions SET seats = (SELECT count(*) FROM memberships m WHERE m.account_id = subscriptions.account_id)
    WHERE (SELECT count(*) FROM memberships m WHERE m.account_id = subscriptions.account_id) > 1;
