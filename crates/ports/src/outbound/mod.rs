//! Ports: what the application needs from the outside world.

mod error;
mod provider;
mod security;
mod store;
mod system;

pub use error::StoreError;
pub use provider::*;
pub use security::*;
pub use store::*;
pub use system::*;
