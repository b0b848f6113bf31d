//! Tokens the gateway accepts: HS256 JWTs with the user as `sub`, signed with the gateway's secret.

use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

/// The claims the gateway requires.
#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    exp: u64,
}

/// A token for `user` valid for an hour.
pub fn mint(secret: &str, user: &str) -> Result<String, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let claims = Claims {
        sub: user,
        exp: now + 3600,
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| format!("cannot mint a token: {e}"))
}
