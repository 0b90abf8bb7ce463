//! The accounts migration (SPEC §13) on a database made by the schema before it, with rows, on
//! both stores: every user gets a personal account (its id theirs) that takes over their
//! subscription with its Stripe ids and counters, usage records, sessions, reservations and audit
//! trail; nothing is lost, the counters still equal the records, and metered use works after.

#![allow(clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
#![allow(clippy::disallowed_methods, reason = "tests make their own ids")]

use std::borrow::Cow;
use std::sync::Arc;

use sqlx::migrate::Migrator;
use time::macros::datetime;
use tollgate_domain::{AccountId, AccountKind, CustomerId, MemberRole, PlanId, RunCount, RunLimit, UserId};
use tollgate_ports::{
    ConsumeOutcome, Consumption, IdempotencyKey, RepositoryPorts, ReservationStatus, SettleOutcome,
    UsageReason,
};
use tollgate_store_contract::harness::TestDatabase;
use uuid::Uuid;

const ACCOUNTS: i64 = 20261204000001;
const ADA: Uuid = Uuid::from_u128(0xA0A);
const BOB: Uuid = Uuid::from_u128(0xB0B);
const HOLD: Uuid = Uuid::from_u128(0x40);
const SESSION: Uuid = Uuid::from_u128(0x51);
const NOW: time::OffsetDateTime = datetime!(2026-12-03 12:00 UTC);

fn before(mut migrator: Migrator) -> Migrator {
    migrator.migrations =
        Cow::Owned(migrator.migrations.iter().filter(|m| m.version < ACCOUNTS).cloned().collect());
    migrator
}

const OPTIONS: tollgate_store_sqlite::PoolOptions = tollgate_store_sqlite::PoolOptions {
    max_connections: 2,
    acquire_timeout: std::time::Duration::from_secs(10),
    write_queue_limit: tollgate_store_sqlite::PoolOptions::WRITE_QUEUE_LIMIT,
};

/// The rows, in either dialect: `ts(x)` writes a timestamp, `id(x)` a UUID.
fn rows(ts: impl Fn(&str) -> String, id: impl Fn(Uuid) -> String, yes: &str, no: &str) -> Vec<String> {
    let (ada, bob) = (id(ADA), id(BOB));
    let (start, end, made) =
        (ts("2026-12-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"), ts("2026-11-20T00:00:00Z"));
    vec![
        format!("INSERT INTO users VALUES ({ada}, 'ada@example.com', 'Ada Lovelace', 'user', 'h', {made})"),
        format!("INSERT INTO users VALUES ({bob}, 'bob@example.com', '', 'user', 'h', {made})"),
        format!(
            "INSERT INTO subscriptions (id, user_id, plan, status, runs_used, period_start, period_end, period_anchor, \
             cancel_at_period_end, trial_used, has_paid, stripe_customer_id, stripe_subscription_id, stripe_granted, \
             version, created_at, updated_at, runs_reserved, runs_granted) VALUES \
             ({}, {ada}, 'pro', 'active', 3, {start}, {end}, {start}, {no}, {yes}, {yes}, 'cus_ada', 'sub_ada', {yes}, 7, {made}, {made}, 0, 0), \
             ({}, {bob}, 'free', 'active', 1, {start}, {end}, {start}, {no}, {no}, {no}, NULL, NULL, {no}, 2, {made}, {made}, 2, 0)",
            id(Uuid::from_u128(0x5A)),
            id(Uuid::from_u128(0x5B)),
        ),
        format!(
            "INSERT INTO usage_records (id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash) VALUES \
             ({}, {ada}, 2, 'session.create', 'k-1', {}, {no}, {}, NULL), \
             ({}, {ada}, 1, 'service:report', NULL, NULL, {no}, {}, NULL), \
             ({}, {bob}, 1, 'POST /agents/{{id}}/run', 'k-1', NULL, {no}, {}, NULL)",
            id(Uuid::from_u128(0x61)),
            id(SESSION),
            ts("2026-12-02T10:00:00Z"),
            id(Uuid::from_u128(0x62)),
            ts("2026-12-02T11:00:00Z"),
            id(Uuid::from_u128(0x63)),
            ts("2026-12-02T12:00:00Z"),
        ),
        format!("INSERT INTO sessions VALUES ({}, {ada}, 'kept', {})", id(SESSION), ts("2026-12-02T10:00:00Z")),
        format!(
            "INSERT INTO reservations (id, user_id, runs, committed_runs, status, expires_at, idempotency_key, request_hash, created_at, updated_at) \
             VALUES ({}, {bob}, 2, NULL, 'held', {}, 'h-1', NULL, {}, {})",
            id(HOLD),
            ts("2026-12-03T13:00:00Z"),
            ts("2026-12-03T11:00:00Z"),
            ts("2026-12-03T11:00:00Z"),
        ),
        format!(
            "INSERT INTO audit_log (id, actor, action, target_user_id, before, after, reason, request_id, at) \
             VALUES ({}, 'cli:ops', 'user.set_plan', {ada}, NULL, NULL, 'contract', NULL, {made})",
            id(Uuid::from_u128(0xAD)),
        ),
    ]
}

/// What every store must show after the migration, through the ports.
async fn everything_is_there_and_metered_use_works(p: &RepositoryPorts) {
    let (ada, bob) = (UserId::from_uuid(ADA), UserId::from_uuid(BOB));
    let (ada_acc, bob_acc) = (AccountId::personal(ada), AccountId::personal(bob));
    // Each user has their personal account, as its owner; a blank name falls back to the email.
    for (user, name) in [(ada, "Ada Lovelace"), (bob, "bob@example.com")] {
        let mine = p.accounts.accounts_of(user).await.expect("accounts");
        assert_eq!(mine.len(), 1);
        assert_eq!(
            (mine[0].account.id, mine[0].account.kind, mine[0].account.name.as_str(), mine[0].role),
            (AccountId::personal(user), AccountKind::Personal, name, MemberRole::Owner)
        );
    }
    // The subscriptions, with their Stripe ids, counters and versions.
    let sub = p.subs.get_by_account(ada_acc).await.expect("read").expect("ada's subscription");
    assert_eq!((sub.plan(), sub.runs_used(), sub.version()), (PlanId::Pro, RunCount::new(3), 7));
    assert_eq!(sub.billing().subscription_id.as_deref(), Some("sub_ada"));
    let by_customer = p.subs.find_by_customer(&CustomerId::new(String::from("cus_ada"))).await.expect("read");
    assert_eq!(by_customer.map(|s| s.account_id()), Some(ada_acc));
    let bobs = p.subs.get_by_account(bob_acc).await.expect("read").expect("bob's subscription");
    assert_eq!((bobs.runs_used(), bobs.runs_reserved()), (RunCount::new(1), RunCount::new(2)));
    // Every record, paid by the personal account and run by its user; counters equal records.
    let records = p.usage.list(ada_acc, 10).await.expect("records");
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.account_id == ada_acc && r.user_id == Some(ada)));
    assert_eq!(records.iter().map(|r| r.units).sum::<u32>(), sub.runs_used().get());
    let records = p.usage.list(bob_acc, 10).await.expect("records");
    assert_eq!(records.iter().map(|r| r.units).sum::<u32>(), bobs.runs_used().get());
    let (sessions, total) =
        p.sessions.list(ada, ada_acc, tollgate_ports::Page { limit: 10, offset: 0 }).await.expect("sessions");
    assert_eq!((total, sessions[0].account_id, sessions[0].title.as_deref()), (1, ada_acc, Some("kept")));
    let hold = p.reservations.get(HOLD).await.expect("read").expect("bob's hold");
    assert_eq!((hold.account_id, hold.user_id, hold.status), (bob_acc, Some(bob), ReservationStatus::Held));
    assert_eq!(hold.runs, bobs.runs_reserved());

    // Metered use goes on: a replay of an old key, a new charge, the old hold committed.
    let charge = |account: AccountId, user: UserId, version: i64, key: Option<&str>| Consumption {
        record_id: Uuid::now_v7(),
        account_id: account,
        user_id: Some(user),
        units: RunCount::new(1),
        limit: RunLimit::limited(10),
        expected_version: version,
        idempotency_key: key.and_then(IdempotencyKey::parse),
        reason: UsageReason::Service("after".into()),
        at: NOW,
    };
    let replay = p.usage.consume(&charge(ada_acc, ada, 7, Some("k-1"))).await.expect("consume");
    assert_eq!(replay, ConsumeOutcome::Replayed { value: Some(SESSION) });
    let charged = p.usage.consume(&charge(bob_acc, bob, 2, Some("k-2"))).await.expect("consume");
    assert!(matches!(charged, ConsumeOutcome::Consumed { runs_used, .. } if runs_used == RunCount::new(2)));
    let settled =
        p.reservations.commit(HOLD, Some(RunCount::new(1)), Uuid::now_v7(), NOW).await.expect("commit");
    assert!(matches!(settled, SettleOutcome::Done(_)), "{settled:?}");
    let bobs = p.subs.get_by_account(bob_acc).await.expect("read").expect("bob's subscription");
    assert_eq!((bobs.runs_used(), bobs.runs_reserved()), (RunCount::new(3), RunCount::ZERO));
}

#[tokio::test]
async fn sqlite_gives_every_user_a_personal_account_and_loses_nothing() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let options = url.parse::<SqliteConnectOptions>().expect("url").create_if_missing(true);
    let pool = SqlitePoolOptions::new().connect_with(options).await.expect("open");
    before(sqlx::migrate!("../adapters/sqlite/migrations")).run(&pool).await.expect("the schema before");
    let ts = |at: &str| {
        let at =
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).expect("time");
        (at.unix_timestamp_nanos() / 1_000).to_string()
    };
    let id = |id: Uuid| format!("x'{}'", id.simple());
    for statement in rows(ts, id, "1", "0") {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone())).execute(&pool).await.expect(&statement);
    }
    pool.close().await;

    let store = tollgate_store_sqlite::SqliteStore::connect(&url, OPTIONS).await.expect("open");
    store.migrate().await.expect("the accounts migration");
    let pool = SqlitePoolOptions::new().connect(&url).await.expect("open");
    let audit: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT target_account_id FROM audit_log").fetch_one(&pool).await.expect("audit");
    assert_eq!(audit, Some(ADA.as_bytes().to_vec()));
    let memberships: i64 =
        sqlx::query_scalar("SELECT count(*) FROM memberships WHERE role = 'owner' AND account_id = user_id")
            .fetch_one(&pool)
            .await
            .expect("memberships");
    assert_eq!(memberships, 2);
    everything_is_there_and_metered_use_works(&RepositoryPorts::of(Arc::new(store))).await;
}

#[tokio::test]
async fn postgres_gives_every_user_a_personal_account_and_loses_nothing() {
    let Some(db) = TestDatabase::create().await else { return };
    let pool = sqlx::postgres::PgPoolOptions::new().connect(db.url()).await.expect("open");
    before(sqlx::migrate!("../adapters/postgres/migrations")).run(&pool).await.expect("the schema before");
    let ts = |at: &str| format!("'{at}'::timestamptz");
    let id = |id: Uuid| format!("'{id}'::uuid");
    for statement in rows(ts, id, "TRUE", "FALSE") {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone())).execute(&pool).await.expect(&statement);
    }
    pool.close().await;

    let store = tollgate_store_postgres::PgStore::connect(db.url(), OPTIONS).await.expect("open");
    store.migrate().await.expect("the accounts migration");
    let pool = sqlx::postgres::PgPoolOptions::new().connect(db.url()).await.expect("open");
    let audit: Option<Uuid> =
        sqlx::query_scalar("SELECT target_account_id FROM audit_log").fetch_one(&pool).await.expect("audit");
    assert_eq!(audit, Some(ADA));
    let memberships: i64 =
        sqlx::query_scalar("SELECT count(*) FROM memberships WHERE role = 'owner' AND account_id = user_id")
            .fetch_one(&pool)
            .await
            .expect("memberships");
    assert_eq!(memberships, 2);
    pool.close().await;
    everything_is_there_and_metered_use_works(&RepositoryPorts::of(Arc::new(store))).await;
    db.drop_now().await;
}

/// The seats migration on a database made by the schema before it (accounts, with an
/// organisation of three and a personal account): every account's seats are its members.
const SEATS: i64 = 20261204000002;

fn seat_rows(ts: &str, id: impl Fn(Uuid) -> String) -> Vec<String> {
    let (ada, bob, cyd, acme) = (id(ADA), id(BOB), id(Uuid::from_u128(0xC0D)), id(Uuid::from_u128(0xAC3E)));
    let mut rows = Vec::new();
    for (user, email) in [(&ada, "ada"), (&bob, "bob"), (&cyd, "cyd")] {
        rows.push(format!(
            "INSERT INTO users VALUES ({user}, '{email}@example.com', '{email}', 'user', 'h', {ts})"
        ));
        rows.push(format!("INSERT INTO accounts VALUES ({user}, '{email}', 'personal', {ts})"));
        rows.push(format!("INSERT INTO memberships VALUES ({user}, {user}, 'owner', NULL, 0, 0, {ts})"));
    }
    rows.push(format!("INSERT INTO accounts VALUES ({acme}, 'Acme', 'organisation', {ts})"));
    for (user, role) in [(&ada, "owner"), (&bob, "admin"), (&cyd, "member")] {
        rows.push(format!("INSERT INTO memberships VALUES ({acme}, {user}, '{role}', NULL, 0, 0, {ts})"));
    }
    for (sub, account) in [(0x51, &acme), (0x52, &ada)] {
        rows.push(format!(
            "INSERT INTO subscriptions (id, account_id, plan, status, runs_used, period_start, period_end, period_anchor, \
             version, created_at, updated_at) VALUES ({}, {account}, 'pro', 'active', 0, {ts}, {ts} + {}, {ts}, 1, {ts}, {ts})",
            id(Uuid::from_u128(sub)),
            if ts.contains("timestamptz") { "interval '30 days'" } else { "2592000000000" },
        ));
    }
    rows
}

async fn seats_are_the_members(p: &RepositoryPorts) {
    let acme = AccountId::from_uuid(Uuid::from_u128(0xAC3E));
    let seats = |sub: Option<tollgate_domain::Subscription>| sub.expect("subscription").seats();
    assert_eq!(seats(p.subs.get_by_account(acme).await.expect("read")), 3);
    assert_eq!(
        seats(p.subs.get_by_account(AccountId::personal(UserId::from_uuid(ADA))).await.expect("read")),
        1
    );
}

#[tokio::test]
async fn sqlite_counts_every_accounts_members_into_its_seats() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let options = url.parse::<SqliteConnectOptions>().expect("url").create_if_missing(true);
    let pool = SqlitePoolOptions::new().connect_with(options).await.expect("open");
    let mut before = sqlx::migrate!("../adapters/sqlite/migrations");
    before.migrations = Cow::Owned(before.migrations.iter().filter(|m| m.version < SEATS).cloned().collect());
    before.run(&pool).await.expect("the schema before");
    for statement in seat_rows("1764547200000000", |id: Uuid| format!("x'{}'", id.simple())) {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone())).execute(&pool).await.expect(&statement);
    }
    pool.close().await;
    let store = tollgate_store_sqlite::SqliteStore::connect(&url, OPTIONS).await.expect("open");
    store.migrate().await.expect("the seats migration");
    seats_are_the_members(&RepositoryPorts::of(Arc::new(store))).await;
}

#[tokio::test]
async fn postgres_counts_every_accounts_members_into_its_seats() {
    let Some(db) = TestDatabase::create().await else { return };
    let pool = sqlx::postgres::PgPoolOptions::new().connect(db.url()).await.expect("open");
    let mut before = sqlx::migrate!("../adapters/postgres/migrations");
    before.migrations = Cow::Owned(before.migrations.iter().filter(|m| m.version < SEATS).cloned().collect());
    before.run(&pool).await.expect("the schema before");
    for statement in seat_rows("'2025-12-01T00:00:00Z'::timestamptz", |id: Uuid| format!("'{id}'::uuid")) {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone())).execute(&pool).await.expect(&statement);
    }
    pool.close().await;
    let store = tollgate_store_postgres::PgStore::connect(db.url(), OPTIONS).await.expect("open");
    store.migrate().await.expect("the seats migration");
    seats_are_the_members(&RepositoryPorts::of(Arc::new(store))).await;
    db.drop_now().await;
}
