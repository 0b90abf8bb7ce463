//! The use cases the handlers call, built once at start-up by the binary.

use std::sync::Arc;

use tollgate_ports::HealthCheck;
use tollgate_usecases::accounts::AccountsService;
use tollgate_usecases::admin::AdminService;
use tollgate_usecases::auth::AuthService;
use tollgate_usecases::billing::BillingService;
use tollgate_usecases::housekeeping::HousekeepingService;
use tollgate_usecases::metering::MeteringService;
use tollgate_usecases::reservations::ReservationService;
use tollgate_usecases::service_keys::ServiceKeyService;
use tollgate_usecases::sessions::SessionService;
use tollgate_usecases::usage_history::UsageHistoryService;
use tollgate_usecases::webhooks::WebhookService;

/// The use cases, built once at start-up.
#[derive(Clone)]
pub struct Services {
    pub auth: Arc<AuthService>,
    pub accounts: Arc<AccountsService>,
    pub billing: Arc<BillingService>,
    pub metering: Arc<MeteringService>,
    pub sessions: Arc<SessionService>,
    pub webhooks: Arc<WebhookService>,
    pub admin: Arc<AdminService>,
    pub keys: Arc<ServiceKeyService>,
    pub reservations: Arc<ReservationService>,
    pub usage_history: Arc<UsageHistoryService>,
    pub housekeeping: Arc<HousekeepingService>,
    pub health: Arc<dyn HealthCheck>,
}
