//! `Housekeeping`.

#[doc(hidden)]
#[macro_export]
macro_rules! __housekeeping {
    ($store:ty, $db:ty) => {
        #[::async_trait::async_trait]
        impl ::tollgate_ports::outbound::Housekeeping for $store {
            #[::tracing::instrument(skip_all)]
            async fn purge(
                &self,
                cutoffs: ::tollgate_ports::outbound::PurgeCutoffs,
            ) -> Result<::tollgate_ports::outbound::Purged, ::tollgate_ports::outbound::StoreError> {
                let deleted = |done: <$db as ::sqlx::Database>::QueryResult| done.rows_affected();
                let refresh_tokens = ::sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
                    .bind($crate::Ts(cutoffs.refresh_tokens_expired_before))
                    .execute(self.write_pool())
                    .await
                    .map(deleted)
                    .map_err($crate::store_error)?;
                let reservations = ::sqlx::query(
                    "DELETE FROM reservations WHERE status IN ('released', 'expired') AND updated_at < $1",
                )
                .bind($crate::Ts(cutoffs.reservations_settled_before))
                .execute(self.write_pool())
                .await
                .map(deleted)
                .map_err($crate::store_error)?;
                let inbox_entries = ::sqlx::query("DELETE FROM webhook_events WHERE received_at < $1")
                    .bind($crate::Ts(cutoffs.inbox_received_before))
                    .execute(self.write_pool())
                    .await
                    .map(deleted)
                    .map_err($crate::store_error)?;
                Ok(::tollgate_ports::outbound::Purged { refresh_tokens, reservations, inbox_entries })
            }
        }
    };
}
