use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use uuid::Uuid;

use super::*;

fn config(secret: &str) -> JwtConfig {
    JwtConfig {
        secret: secret.as_bytes().to_vec(),
        issuer: "tollgate".into(),
        audience: "tollgate-api".into(),
        access_ttl: time::Duration::minutes(15),
        refresh_ttl: time::Duration::days(30),
    }
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn user() -> UserId {
    UserId::from_uuid(Uuid::from_u128(7))
}

fn forge(header: serde_json::Value, claims: serde_json::Value, signature: &str) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{h}.{c}.{signature}")
}

fn claims(typ: &str, exp_offset: i64) -> serde_json::Value {
    #[allow(clippy::disallowed_methods, reason = "tokens are checked against the system clock")]
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    serde_json::json!({"sub": user().to_string(), "iss": "tollgate", "aud": "tollgate-api",
        "exp": now + exp_offset, "iat": now, "typ": typ, "role": "user"})
}

#[test]
fn an_issued_access_token_verifies_to_its_user_and_role() {
    let issuer = JwtIssuer::new(config(SECRET));
    let token = issuer.issue_access(user(), Role::Admin).expect("issued");
    assert_eq!(token.expires_in_secs, 900);
    assert_eq!(issuer.verify_access(&token.token), Ok(AccessClaims { user_id: user(), role: Role::Admin }));
}

#[test]
fn a_token_signed_with_another_key_is_refused() {
    let token = JwtIssuer::new(config("another-secret-another-secret-xx"))
        .issue_access(user(), Role::User)
        .expect("issued");
    assert_eq!(JwtIssuer::new(config(SECRET)).verify_access(&token.token), Err(TokenError::Invalid));
}

#[test]
fn an_unsigned_alg_none_token_is_refused() {
    let token = forge(serde_json::json!({"alg": "none", "typ": "JWT"}), claims("access", 600), "");
    assert_eq!(JwtIssuer::new(config(SECRET)).verify_access(&token), Err(TokenError::Invalid));
}

#[test]
fn a_tampered_payload_is_refused() {
    let issuer = JwtIssuer::new(config(SECRET));
    let token = issuer.issue_access(user(), Role::User).expect("issued").token;
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims("access", 600);
    forged["role"] = "admin".into();
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(forged.to_string()), parts[2]);
    assert_eq!(issuer.verify_access(&tampered), Err(TokenError::Invalid));
}

#[test]
fn expired_wrong_audience_wrong_issuer_and_non_access_tokens_are_refused() {
    let issuer = JwtIssuer::new(config(SECRET));
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let sign = |c: serde_json::Value| encode(&Header::new(Algorithm::HS256), &c, &key).expect("signed");
    let mut wrong_aud = claims("access", 600);
    wrong_aud["aud"] = "someone-else".into();
    let mut wrong_iss = claims("access", 600);
    wrong_iss["iss"] = "evil".into();
    for bad in [claims("access", -1), claims("refresh", 600), wrong_aud, wrong_iss] {
        assert_eq!(issuer.verify_access(&sign(bad.clone())), Err(TokenError::Invalid), "{bad}");
    }
    assert_eq!(issuer.verify_access("not.a.jwt"), Err(TokenError::Invalid));
    assert_eq!(issuer.verify_access(""), Err(TokenError::Invalid));
}

#[test]
fn refresh_tokens_are_random_and_stored_as_their_hash() {
    let issuer = JwtIssuer::new(config(SECRET));
    let a = issuer.new_refresh_token();
    let b = issuer.new_refresh_token();
    assert_ne!(a.token, b.token);
    assert_eq!(a.token.len(), 43, "32 random bytes, base64url");
    assert_eq!(a.hash, issuer.hash_refresh_token(&a.token));
    assert_ne!(a.hash, a.token);
    assert_eq!(a.hash.len(), 64);
    // A refresh token is no access token.
    assert_eq!(issuer.verify_access(&a.token), Err(TokenError::Invalid));
}
