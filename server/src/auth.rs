//! Bearer-token credentials. The admin token (`BLENDLAB_ADMIN_TOKEN`) is accepted everywhere.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use sha2::{Digest, Sha256};

use crate::{
    error::{shaped, ApiError},
    state::AppState,
};

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
        // Constant-time: no early exit on the first differing byte.
        candidate
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
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

/// Extracting `Admin` proves the request carries the admin token; otherwise 401.
pub struct Admin;

impl FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request
            .app_data::<web::Data<AppState>>()
            .expect("AppState is registered");
        let valid = bearer(request).is_some_and(|token| state.admin_token.matches(token));
        ready(if valid {
            Ok(Admin)
        } else {
            Err(shaped(request, ApiError::unauthorized()))
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
