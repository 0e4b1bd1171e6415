//! Bearer-token credentials (docs/architecture.md: 401 vs 403). The admin token (`BLENDLAB_ADMIN_TOKEN`) is
//! accepted everywhere and never rate-limited; client keys work on chat, events and their own
//! conversations, each under its own rate limit.

mod client_keys;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

pub use client_keys::{issue, ClientKey, ClientKeys, IssuedKey, KEY_PREFIX};

use crate::error::{shaped, ApiError};

/// What the extractors check a bearer token against, registered as its own app data so that
/// credentials do not depend on the rest of the server's state.
pub struct Credentials {
    pub admin_token: AdminToken,
    /// Client API keys: verification and per-key rate limits.
    pub keys: ClientKeys,
}

/// The admin token, kept as its SHA-256 so comparisons take the same time whatever the input.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    pub fn new(token: &str) -> anyhow::Result<Self> {
        if token.len() < 16 {
            anyhow::bail!("the admin token must be at least 16 characters");
        }
        Ok(Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// A fresh random token, for `serve` and `demo` when none is configured.
    pub fn generate() -> String {
        use rand::RngCore;
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn matches(&self, candidate: &str) -> bool {
        let candidate: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        constant_time_eq(&candidate, &self.digest)
    }
}

/// No early exit on the first differing byte, so timing does not tell how much matched.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Who sent a request, once its credentials are verified.
#[derive(Debug, Clone)]
pub enum Caller {
    Admin,
    Client(ClientKey),
}

impl Caller {
    /// The client key's id; `None` for the admin.
    pub fn client_key(&self) -> Option<&str> {
        match self {
            Self::Admin => None,
            Self::Client(key) => Some(&key.key_id),
        }
    }

    /// May this caller read or continue a conversation that `owner` started?
    pub fn owns(&self, owner: Option<&str>) -> bool {
        match self {
            Self::Admin => true,
            Self::Client(key) => owner == Some(key.key_id.as_str()),
        }
    }
}

fn credentials(request: &HttpRequest) -> web::Data<Credentials> {
    request
        .app_data::<web::Data<Credentials>>()
        .expect("Credentials are registered")
        .clone()
}

/// The verified caller, or `None` when the credentials are missing or invalid.
async fn identify(request: &HttpRequest) -> Result<Option<Caller>, ApiError> {
    let Some(token) = bearer(request) else {
        return Ok(None);
    };
    let credentials = credentials(request);
    if credentials.admin_token.matches(token) {
        return Ok(Some(Caller::Admin));
    }
    Ok(credentials.keys.verify(token).await?.map(Caller::Client))
}

/// Runs [`identify`] for an extractor and turns its verdict into the extractor's value or the
/// route family's error shape. `decide` gets `None` for missing or invalid credentials.
fn extract_with<T: 'static>(
    request: &HttpRequest,
    decide: fn(&HttpRequest, Option<Caller>) -> Result<T, ApiError>,
) -> LocalBoxFuture<'static, Result<T, actix_web::Error>> {
    let request = request.clone();
    Box::pin(async move {
        identify(&request)
            .await
            .and_then(|caller| decide(&request, caller))
            .map_err(|error| shaped(&request, error))
    })
}

/// Extracting `Caller` proves the admin token or a live client key, and takes one request from
/// the key's rate limit: otherwise 401, or 429 with `Retry-After`.
impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract_with(request, |request, caller| {
            let caller = caller.ok_or_else(ApiError::unauthorized)?;
            if let Caller::Client(key) = &caller {
                credentials(request).keys.admit(key).map_err(|wait| {
                    ApiError::rate_limited(&key.key_id, key.requests_per_minute, wait)
                })?;
            }
            Ok(caller)
        })
    }
}

/// Extracting `Admin` proves the request carries the admin token: otherwise 403 for a live client
/// key, 401 for anything else.
pub struct Admin;

impl FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract_with(request, |_, caller| match caller {
            Some(Caller::Admin) => Ok(Admin),
            Some(Caller::Client(_)) => Err(ApiError::forbidden(
                "this endpoint needs the admin token; client keys may use chat, events and \
                 their own conversations",
            )),
            None => Err(ApiError::unauthorized()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new("0123456789abcdef-secret").unwrap();
        assert!(token.matches("0123456789abcdef-secret"));
        assert!(!token.matches("0123456789abcdef-secreT"));
        assert!(!token.matches(""));
    }

    #[test]
    fn short_tokens_are_refused() {
        assert!(AdminToken::new("short").is_err());
        assert_eq!(AdminToken::generate().len(), 48);
    }
}
