//! Reading SQLite rows into the shared records (timestamps are INTEGER microseconds here).

use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use time::OffsetDateTime;
use tollgate_store_sql::{
    from_micros, RefreshTokenRow, SessionRecord, SubscriptionRecord, UsageRow, UserRecord,
};

fn ts(row: &SqliteRow, column: &str) -> Result<OffsetDateTime, sqlx::Error> {
    from_micros(row.try_get(column)?).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn opt_ts(row: &SqliteRow, column: &str) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    row.try_get::<Option<i64>, _>(column)?
        .map(|m| from_micros(m).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

pub(crate) fn user(row: &SqliteRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        fullname: row.try_get("fullname")?,
        role: row.try_get("role")?,
        password_hash: row.try_get("password_hash")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(crate) fn subscription(row: &SqliteRow) -> Result<SubscriptionRecord, sqlx::Error> {
    Ok(SubscriptionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        plan: row.try_get("plan")?,
        status: row.try_get("status")?,
        runs_used: row.try_get("runs_used")?,
        period_start: ts(row, "period_start")?,
        period_end: ts(row, "period_end")?,
        period_anchor: ts(row, "period_anchor")?,
        limit_override: row.try_get("limit_override")?,
        cancel_at_period_end: row.try_get("cancel_at_period_end")?,
        trial_started_at: opt_ts(row, "trial_started_at")?,
        trial_ends_at: opt_ts(row, "trial_ends_at")?,
        trial_used: row.try_get("trial_used")?,
        has_paid: row.try_get("has_paid")?,
        past_due_since: opt_ts(row, "past_due_since")?,
        stripe_customer_id: row.try_get("stripe_customer_id")?,
        stripe_subscription_id: row.try_get("stripe_subscription_id")?,
        stripe_granted: row.try_get("stripe_granted")?,
        stripe_last_event_at: opt_ts(row, "stripe_last_event_at")?,
        version: row.try_get("version")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub(crate) fn session(row: &SqliteRow) -> Result<SessionRecord, sqlx::Error> {
    Ok(SessionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        title: row.try_get("title")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(crate) fn token(row: &SqliteRow) -> Result<RefreshTokenRow, sqlx::Error> {
    Ok(RefreshTokenRow {
        id: row.try_get("id")?,
        family_id: row.try_get("family_id")?,
        user_id: row.try_get("user_id")?,
        token_hash: row.try_get("token_hash")?,
        expires_at: ts(row, "expires_at")?,
        rotated_at: opt_ts(row, "rotated_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(crate) fn usage(row: &SqliteRow) -> Result<UsageRow, sqlx::Error> {
    Ok(UsageRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        units: row.try_get("units")?,
        reason: row.try_get("reason")?,
        idempotency_key: row.try_get("idempotency_key")?,
        resource_id: row.try_get("resource_id")?,
        refunded: row.try_get("refunded")?,
        created_at: ts(row, "created_at")?,
    })
}
