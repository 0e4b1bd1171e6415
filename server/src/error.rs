//! HTTP errors. `/api/*` answers `{"error": {"code", "message"}}` (with `param` when one field is
//! at fault); `/v1/*` answers OpenAI's `{"error": {"message", "type", "code", "param"}}`. The
//! caller's mistakes are 4xx, never 5xx.

use std::borrow::Cow;

use actix_web::{
    error::{PathError, QueryPayloadError},
    http::{header, StatusCode},
    HttpRequest, HttpResponse, ResponseError,
};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, as a JSON path such as `messages[0].content`.
    pub param: Option<Cow<'static, str>>,
    pub retry_after_s: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            param: None,
            retry_after_s: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid credentials: send `Authorization: Bearer <token>`",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// A client key over its limit: which key, its limit, and when to come back.
    pub fn rate_limited(key_id: &str, requests_per_minute: u32, wait: std::time::Duration) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "client key {key_id} is limited to {requests_per_minute} requests a minute; retry in {:.1} s",
                wait.as_secs_f64()
            ),
        );
        error.retry_after_s = Some(wait.as_secs_f64().ceil().max(1.0) as u32);
        error
    }

    /// A dependency outage: 503 with `Retry-After`, answered as soon as the store fails.
    pub fn store_unavailable(outage: blendlab_store::Outage) -> Self {
        use blendlab_store::Outage;
        let code = match outage {
            Outage::DiskFull => "store_full",
            Outage::ReadOnly => "store_read_only",
            Outage::Unreachable | Outage::Busy | Outage::Io => "store_unavailable",
        };
        let message = format!(
            "the store is unavailable ({}); nothing of this request was stored, retry shortly",
            outage.describe()
        );
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        error.retry_after_s = Some(1);
        error
    }

    /// A request that arrived while the server drains for shutdown: another replica can serve it.
    pub fn shutting_down() -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry (another replica will answer)",
        );
        error.retry_after_s = Some(1);
        error
    }

    pub fn with_param(mut self, param: impl Into<Cow<'static, str>>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Logs the cause chain and hides it from the caller.
    pub fn unexpected(error: anyhow::Error) -> Self {
        tracing::error!(error = format!("{error:#}"), "unexpected error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl From<blendlab_store::StoreError> for ApiError {
    fn from(error: blendlab_store::StoreError) -> Self {
        match error {
            blendlab_store::StoreError::Conflict(m) => Self::conflict("conflict", m),
            blendlab_store::StoreError::Unavailable(outage) => Self::store_unavailable(outage),
            blendlab_store::StoreError::Unexpected(e) => Self::unexpected(e),
        }
    }
}

fn with_retry_after(
    mut builder: actix_web::HttpResponseBuilder,
    retry_after_s: Option<u32>,
) -> actix_web::HttpResponseBuilder {
    if let Some(seconds) = retry_after_s {
        builder.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    builder
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        with_retry_after(HttpResponse::build(self.status), self.retry_after_s).json(self.body())
    }
}

impl ApiError {
    /// The `/api` error body; also the payload of a stream's `error` event.
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(param) = &self.param {
            error["param"] = json!(param);
        }
        json!({ "error": error })
    }
}

/// The same error in OpenAI's shape, for `/v1/*`.
#[derive(Debug)]
pub struct OpenAiError(pub ApiError);

impl From<ApiError> for OpenAiError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl std::fmt::Display for OpenAiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for OpenAiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        with_retry_after(HttpResponse::build(self.0.status), self.0.retry_after_s).json(self.body())
    }
}

impl OpenAiError {
    /// OpenAI's error body; also the payload of a failed stream's last `data:` line.
    pub fn body(&self) -> serde_json::Value {
        let kind = match self.0.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            500.. => "server_error",
            _ => "invalid_request_error",
        };
        json!({
            "error": { "message": self.0.message, "type": kind, "code": self.0.code, "param": self.0.param }
        })
    }
}

fn is_openai_path(request: &HttpRequest) -> bool {
    request.path().starts_with("/v1/")
}

/// Renders `error` in the shape the request's route family uses.
pub fn shaped(request: &HttpRequest, error: ApiError) -> actix_web::Error {
    if is_openai_path(request) {
        OpenAiError(error).into()
    } else {
        error.into()
    }
}

pub fn path_error(error: PathError, request: &HttpRequest) -> actix_web::Error {
    shaped(
        request,
        ApiError::bad_request("invalid_path", error.to_string()),
    )
}

pub fn query_error(error: QueryPayloadError, request: &HttpRequest) -> actix_web::Error {
    shaped(
        request,
        ApiError::bad_request("invalid_query", error.to_string()),
    )
}

pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    let message = format!("no route for {} {}", request.method(), request.path());
    Err(shaped(&request, ApiError::not_found("not_found", message)))
}

/// Every error body: `{"error": {"code", "message"}}` on `/api/*`; OpenAI's
/// `{"error": {"message", "type", "code", "param"}}` on `/v1/*`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Described for the OpenAPI document; `ApiError` builds the bodies.
pub struct ApiErrorBody {
    error: ApiErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ApiErrorDetail {
    /// A stable, machine-readable code such as `invalid_request` or `experiment_not_found`.
    code: String,
    /// What was wrong, for people.
    message: String,
    /// `/v1/*` only: OpenAI's error type, such as `invalid_request_error`.
    #[schema(rename = "type")]
    kind: Option<String>,
    /// The request field at fault, as a JSON path (`messages[0].content`), when there is one.
    param: Option<String>,
}
