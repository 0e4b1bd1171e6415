//! JSON request bodies, checked at the edge: `JsonBody<T>` is actix's `web::Json<T>` with errors
//! in the caller's terms. A wrong type, a missing or unknown field names the field by its JSON
//! path (`messages[0].content`) in the message and in `param`, on both route families.

mod describe;

use std::ops::Deref;

use actix_web::{
    dev::Payload,
    error::PayloadError,
    http::{header, StatusCode},
    mime, web, FromRequest, HttpMessage, HttpRequest,
};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{shaped, ApiError};
use describe::{body_problem, BodyProblem};

/// A request body parsed from JSON.
pub struct JsonBody<T>(pub T);

/// The most bytes a body may have (`max_body_bytes`): app data for the bytes extractor's
/// `web::PayloadConfig` and for the message that refuses a larger body.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    pub fn payload_config(self) -> web::PayloadConfig {
        web::PayloadConfig::new(self.0)
    }
}

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for JsonBody<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let content_type = json_content_type(&request);
        let limit = request.app_data::<BodyLimit>().copied();
        // The bytes extractor enforces the size limit and undoes any Content-Encoding.
        let bytes = web::Bytes::from_request(&request, payload);
        Box::pin(async move {
            let parsed = match content_type {
                Err(error) => Err(error),
                Ok(()) => match bytes.await {
                    Ok(bytes) => parse(&bytes),
                    Err(error) => Err(unreadable(&error, limit)),
                },
            };
            parsed
                .map(JsonBody)
                .map_err(|error| shaped(&request, error))
        })
    }
}

/// Parses a whole body as `T`; trailing data after the value is an error too.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut json)
        .map_err(|error| invalid_body(body_problem(error)))?;
    json.end().map_err(|error| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body is not valid JSON: {error}"),
        )
    })?;
    Ok(value)
}

fn invalid_body(problem: BodyProblem) -> ApiError {
    let error = ApiError::bad_request("invalid_body", problem.message);
    match problem.param {
        Some(param) => error.with_param(param),
        None => error,
    }
}

/// Like `web::Json`: `application/json` or any `+json` type, and nothing without a type.
fn json_content_type(request: &HttpRequest) -> Result<(), ApiError> {
    let is_json = match request.mime_type() {
        Ok(Some(mime)) => mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON),
        _ => false,
    };
    if is_json {
        return Ok(());
    }
    let sent = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "none".to_owned(), |v| format!("`{v}`"));
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("the body must be JSON with `Content-Type: application/json`; got {sent}"),
    ))
}

fn unreadable(error: &actix_web::Error, limit: Option<BodyLimit>) -> ApiError {
    match error.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            match limit {
                Some(BodyLimit(bytes)) => {
                    format!("the body is larger than this server's limit of {bytes} bytes")
                }
                None => "the body is larger than this server's limit".to_owned(),
            },
        ),
        _ => ApiError::bad_request(
            "invalid_body",
            format!("the body could not be read: {error}"),
        ),
    }
}
