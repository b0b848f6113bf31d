//! Authentication: the one place a JWT is verified, before the WebSocket upgrade.
//!
//! Non-browser clients send `Authorization: Bearer <jwt>`; browsers, which cannot set headers, offer the
//! subprotocols `agent-gateway.v1` and `bearer.<jwt>` (the token raw or base64url-encoded).

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{Config, JwtKey};

/// The claims the gateway reads: `sub` is the user id, `exp` is required.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issuer, checked when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, checked when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Why a request is not authenticated. Messages say what is wrong with the token, never what it holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token in the header or the subprotocols.
    #[error("no token: send `Authorization: Bearer <jwt>` or the `bearer.<jwt>` subprotocol")]
    Missing,
    /// Not a JWT, or claims of the wrong shape.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// The signature does not verify with the configured key.
    #[error("token signature is invalid")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// The configured key cannot be used.
    #[error("the configured key is unusable: {0}")]
    Key(String),
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The `sub` claim.
    pub user_id: String,
    /// When the token stops being accepted (its `exp` plus the clock leeway), in Unix seconds: an open
    /// connection is closed then, so a revoked user cannot keep one forever.
    pub expires_at: u64,
}

impl Principal {
    /// How long the token is still accepted from now.
    pub fn remaining(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.expires_at.saturating_sub(now_seconds()))
    }
}

/// Verifies (and, with an HS256 secret, mints) tokens.
#[derive(Clone)]
pub struct Authenticator {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
}

impl Authenticator {
    /// Builds the verifier from the configuration.
    pub fn new(config: &Config) -> Result<Self, AuthError> {
        let (decoding, encoding, algorithm) = match &config.jwt_key {
            JwtKey::Secret(secret) => (
                DecodingKey::from_secret(secret),
                Some(EncodingKey::from_secret(secret)),
                Algorithm::HS256,
            ),
            JwtKey::PublicKey { pem, algorithm } => {
                let key = match algorithm {
                    Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
                    Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
                    _ => DecodingKey::from_rsa_pem(pem),
                };
                (key.map_err(|e| AuthError::Key(e.to_string()))?, None, *algorithm)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &config.jwt_issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &config.jwt_audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Authenticator {
            decoding,
            encoding,
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        })
    }

    /// Authenticates an upgrade request from its headers.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let token = token_from_headers(headers)?;
        self.verify(&token)
    }

    /// Verifies a token and returns its user.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidAlgorithm => AuthError::Malformed("unexpected signing algorithm".into()),
                ErrorKind::MissingRequiredClaim(claim) => AuthError::Malformed(format!("missing claim `{claim}`")),
                ErrorKind::Json(_) => AuthError::Malformed("claims are not of the expected shape".into()),
                _ => AuthError::Malformed("not a valid JWT".into()),
            })?;
        if data.claims.sub.trim().is_empty() {
            return Err(AuthError::Malformed("empty `sub`".into()));
        }
        Ok(Principal {
            user_id: data.claims.sub,
            expires_at: data.claims.exp.saturating_add(LEEWAY_SECONDS),
        })
    }

    /// Mints a token for `user` valid for `ttl_seconds` (HS256 secret only).
    pub fn mint(&self, user: &str, ttl_seconds: u64) -> Result<String, AuthError> {
        let key = self
            .encoding
            .as_ref()
            .ok_or_else(|| AuthError::Key("minting needs an HS256 secret".into()))?;
        let claims = Claims {
            sub: user.to_owned(),
            exp: now_seconds() + ttl_seconds,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key).map_err(|e| AuthError::Key(e.to_string()))
    }
}

/// Clock skew tolerated between the token's issuer and the gateway.
const LEEWAY_SECONDS: u64 = 5;

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The token from `Authorization: Bearer` or from a `bearer.<token>` subprotocol.
fn token_from_headers(headers: &HeaderMap) -> Result<String, AuthError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| AuthError::Malformed("Authorization header is not text".into()))?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or_else(|| AuthError::Malformed("expected `Bearer <jwt>`".into()))?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Malformed("expected `Bearer <jwt>`".into()));
        }
        return Ok(token.trim().to_owned());
    }
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        for protocol in value.split(',').map(str::trim) {
            if let Some(token) = protocol.strip_prefix("bearer.") {
                return decode_subprotocol_token(token);
            }
        }
    }
    Err(AuthError::Missing)
}

/// A subprotocol token is the JWT itself or its base64url encoding.
fn decode_subprotocol_token(token: &str) -> Result<String, AuthError> {
    if token.split('.').count() == 3 {
        return Ok(token.to_owned());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("subprotocol token is neither a JWT nor base64url".into()))?;
    String::from_utf8(bytes).map_err(|_| AuthError::Malformed("subprotocol token is not text".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SECRET: &str = "test-secret-0123456789";

    fn authenticator(issuer: Option<&str>, audience: Option<&str>) -> Authenticator {
        let mut config = Config::for_tests(SECRET, "unused.db".into());
        config.jwt_issuer = issuer.map(str::to_owned);
        config.jwt_audience = audience.map(str::to_owned);
        Authenticator::new(&config).expect("authenticator")
    }

    fn sign(claims: &serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("signs")
    }

    fn headers(name: axum::http::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn minted_tokens_verify_through_the_header_and_both_subprotocol_forms() {
        let auth = authenticator(Some("gw"), Some("clients"));
        let token = auth.mint("alice", 60).expect("mints");
        let expected = auth.verify(&token);
        let principal = expected.clone().expect("verifies");
        assert_eq!(principal.user_id, "alice");
        assert!(
            (61..=65).contains(&principal.remaining().as_secs()),
            "exp + leeway: {principal:?}"
        );
        assert_eq!(
            auth.authenticate(&headers(AUTHORIZATION, &format!("Bearer {token}"))),
            expected
        );
        let raw = format!("agent-gateway.v1, bearer.{token}");
        assert_eq!(auth.authenticate(&headers(SEC_WEBSOCKET_PROTOCOL, &raw)), expected);
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&token);
        let b64 = format!("agent-gateway.v1, bearer.{encoded}");
        assert_eq!(auth.authenticate(&headers(SEC_WEBSOCKET_PROTOCOL, &b64)), expected);
    }

    #[test]
    fn every_bad_token_is_refused_with_its_reason() {
        let auth = authenticator(Some("gw"), Some("clients"));
        let exp = now_seconds() + 60;
        let good = serde_json::json!({"sub": "alice", "exp": exp, "iss": "gw", "aud": "clients"});
        assert_eq!(auth.authenticate(&HeaderMap::new()), Err(AuthError::Missing));
        assert!(matches!(
            auth.authenticate(&headers(AUTHORIZATION, "Basic abc")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(auth.verify("not.a.jwt"), Err(AuthError::Malformed(_))));
        assert_eq!(
            auth.verify(&sign(&good, "another-secret-0123456")),
            Err(AuthError::BadSignature)
        );
        let expired = serde_json::json!({"sub": "alice", "exp": now_seconds() - 3600, "iss": "gw", "aud": "clients"});
        assert_eq!(auth.verify(&sign(&expired, SECRET)), Err(AuthError::Expired));
        let issuer = serde_json::json!({"sub": "alice", "exp": exp, "iss": "evil", "aud": "clients"});
        assert_eq!(auth.verify(&sign(&issuer, SECRET)), Err(AuthError::WrongIssuer));
        let audience = serde_json::json!({"sub": "alice", "exp": exp, "iss": "gw", "aud": "others"});
        assert_eq!(auth.verify(&sign(&audience, SECRET)), Err(AuthError::WrongAudience));
        let no_exp = serde_json::json!({"sub": "alice", "iss": "gw", "aud": "clients"});
        assert!(matches!(
            auth.verify(&sign(&no_exp, SECRET)),
            Err(AuthError::Malformed(_))
        ));
        let empty_sub = serde_json::json!({"sub": " ", "exp": exp, "iss": "gw", "aud": "clients"});
        assert!(matches!(
            auth.verify(&sign(&empty_sub, SECRET)),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            auth.verify(&sign(&good, SECRET)),
            Ok(Principal {
                user_id: "alice".into(),
                expires_at: exp + LEEWAY_SECONDS,
            })
        );
    }

    #[test]
    fn error_messages_never_echo_the_token() {
        let auth = authenticator(None, None);
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let message = auth.verify(token).expect_err("refused").to_string();
        assert!(!message.contains("eyJ"), "{message}");
    }
}
