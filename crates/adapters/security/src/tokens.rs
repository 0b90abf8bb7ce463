use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tollgate_domain::{Role, UserId};
use tollgate_ports::{AccessClaims, AccessToken, NewRefreshToken, TokenError, TokenIssuer};

/// Token settings.
#[derive(Clone)]
pub struct JwtConfig {
    /// HS256 key, at least 32 bytes (checked by the settings).
    pub secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: time::Duration,
    pub refresh_ttl: time::Duration,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: i64,
    iat: i64,
    typ: String,
    role: String,
}

const ACCESS: &str = "access";

/// Issues and checks HS256 access tokens; makes opaque refresh tokens.
pub struct JwtIssuer {
    config: JwtConfig,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtIssuer {
    pub fn new(config: JwtConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(&config.secret),
            decoding: DecodingKey::from_secret(&config.secret),
            validation,
            config,
        }
    }
}

impl TokenIssuer for JwtIssuer {
    fn issue_access(&self, user_id: UserId, role: Role) -> Result<AccessToken, TokenError> {
        // jsonwebtoken checks `exp` against the system clock, so tokens are issued on it too.
        #[allow(clippy::disallowed_methods, reason = "jsonwebtoken checks exp against the system clock")]
        let now = time::OffsetDateTime::now_utc();
        let claims = Claims {
            sub: user_id.to_string(),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            iat: now.unix_timestamp(),
            exp: (now + self.config.access_ttl).unix_timestamp(),
            typ: ACCESS.into(),
            role: role.as_str().into(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Signing)?;
        let expires_in_secs = u64::try_from(self.config.access_ttl.whole_seconds()).unwrap_or(0);
        Ok(AccessToken { token, expires_in_secs })
    }

    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| TokenError::Invalid)?;
        if data.claims.typ != ACCESS {
            return Err(TokenError::Invalid);
        }
        let user_id = data.claims.sub.parse::<UserId>().map_err(|_| TokenError::Invalid)?;
        let role = data.claims.role.parse::<Role>().map_err(|_| TokenError::Invalid)?;
        Ok(AccessClaims { user_id, role })
    }

    fn new_refresh_token(&self) -> NewRefreshToken {
        let mut bytes = [0u8; 32];
        // The OS random source failing is not recoverable; a token from a fallback would be guessable.
        if getrandom::fill(&mut bytes).is_err() {
            panic!("the operating system's random source failed");
        }
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let hash = self.hash_refresh_token(&token);
        NewRefreshToken { token, hash }
    }

    fn hash_refresh_token(&self, token: &str) -> String {
        let digest = Sha256::digest(token.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn refresh_ttl(&self) -> time::Duration {
        self.config.refresh_ttl
    }
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
