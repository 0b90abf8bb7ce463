//! Every JSON request body the API reads, on arbitrary bytes: deserialising never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_http::dto;

fn read<T: serde::de::DeserializeOwned>(data: &[u8]) {
    let _ = serde_json::from_slice::<T>(data);
}

fuzz_target!(|data: &[u8]| {
    read::<dto::RegisterRequest>(data);
    read::<dto::LoginRequest>(data);
    read::<dto::RefreshRequest>(data);
    read::<dto::LogoutRequest>(data);
    read::<dto::CheckoutRequest>(data);
    read::<dto::PortalRequest>(data);
    read::<dto::CreateSessionRequest>(data);
    read::<dto::UsageCheckRequest>(data);
    read::<dto::UsageConsumeRequest>(data);
    read::<dto::UsageRefundRequest>(data);
    read::<dto::ReserveRequest>(data);
    read::<dto::CommitRequest>(data);
    read::<dto::AdminPlanRequest>(data);
    read::<dto::AdminGrantRequest>(data);
    read::<dto::CreateAccountRequest>(data);
    read::<dto::InviteRequest>(data);
    read::<dto::UpdateMemberRequest>(data);
});
