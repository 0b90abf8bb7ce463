//! Password hashing (argon2id, off the async executor) and tokens: short-lived HS256 access JWTs
//! and opaque refresh tokens stored only as SHA-256 hashes.

mod hasher;
mod tokens;

pub use hasher::{Argon2Hasher, HashingLimits};
pub use tokens::{JwtConfig, JwtIssuer};
