//! One error type for every HTTP answer that is not a success, mapped to a status and the JSON body
//! `{"error": "...", "code": "..."}` in one exhaustive match. `recover` turns warp's own rejections
//! (no route, wrong method) into the same shape.

use std::borrow::Cow;
use std::convert::Infallible;

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::Rejection;

use crate::limits::ByteSize;
use crate::store::StoreError;
use crate::text::TextError;

/// What a client refused because the database was locked is told to wait.
const BUSY_RETRY_AFTER_SECS: u64 = 2;

/// The `WWW-Authenticate` challenge of a 401 where API keys are accepted.
pub const API_KEY_CHALLENGE: &str = r#"ApiKey realm="Artifact Review", header="X-API-Key""#;

/// The challenge of a 401 where only a person's session is (signing in sets its cookie): every
/// 401 carries one (RFC 9110, 11.6.1), and it must not invite an API key that would be refused.
pub const SESSION_CHALLENGE: &str = r#"Session realm="Artifact Review", sign-in="/login""#;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is wrong; `code` says how.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 400 about one field of the body, named in the answer's `field` so a form can show the
    /// message next to it.
    #[error("{message}")]
    Invalid {
        /// A body field (`name`), or the path to a nested one (`target.selector.exact`).
        field: Cow<'static, str>,
        code: &'static str,
        message: String,
    },
    /// 401: no valid credentials; `code` says which failure, `hint` how to authenticate here.
    #[error("{message}")]
    Unauthorized {
        code: &'static str,
        message: String,
        hint: AuthHint,
    },
    /// 403: authenticated, but not allowed to do this.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: no such thing, or the caller may not know it exists.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, but not with this method; `allowed` lists the ones it takes (also
    /// sent as the `Allow` header), empty if unknown.
    #[error("method not allowed{}", takes(.allowed))]
    MethodNotAllowed { allowed: String },
    /// 409
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 409 because a unique name is taken: the answer names the holder (`id_field`: its id), so a
    /// client can use it instead.
    #[error("{message}")]
    Taken {
        code: &'static str,
        message: String,
        id_field: &'static str,
        id: String,
    },
    /// 422: the request is well formed but cannot be carried out as sent; `code` says why.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 408: the client took too long to send its body; the message says how far it got.
    #[error("{0}")]
    RequestTimeout(String),
    /// 413: the body is over the transport limit for this route; `declared` is its announced
    /// length (Content-Length), if any.
    #[error("{}", too_large(*.limit, *.declared))]
    PayloadTooLarge { limit: u64, declared: Option<u64> },
    /// 415: the body comes in a content coding (`Content-Encoding: gzip`, say) that is not
    /// decoded here; the message names it. Sent with `Accept-Encoding: identity`.
    #[error("the request body is sent with Content-Encoding {0}, which this server does not decode; send it uncompressed, without a Content-Encoding header")]
    UnsupportedEncoding(String),
    /// 429
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// 503: the server cannot do this until its operator steps in (said in the message, logged).
    #[error("{0}")]
    Unavailable(String),
    /// 503 with `Retry-After`: the database was locked by another process for longer than the
    /// busy timeout; nothing was stored, and a retry shortly may succeed.
    #[error("the database was locked by another process on the server (an admin command, a backup, Litestream) for too long, so nothing was stored; retry in a few seconds")]
    Busy,
    /// 507: the server's disk is full; nothing was stored. Logged, for the operator.
    #[error("the server's disk is full, so nothing was stored; try again once its operator has freed space")]
    InsufficientStorage,
    /// 500: our fault. The cause is logged once; the client only learns it was the server.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(
        field: impl Into<Cow<'static, str>>,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError::Invalid {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// This 400 as one about `field` (named in the answer); any other error is unchanged.
    pub fn for_field(self, field: &'static str) -> ApiError {
        match self {
            ApiError::BadRequest { code, message } => ApiError::Invalid {
                field: field.into(),
                code,
                message,
            },
            other => other,
        }
    }

    /// A 401 where API keys are accepted: its hint says how to send one.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Unauthorized {
            code,
            message: message.into(),
            hint: AuthHint::ApiKey,
        }
    }

    /// This error with `hint` in place of its own, if it is a 401 (any other error is unchanged).
    pub fn with_hint(self, hint: AuthHint) -> ApiError {
        match self {
            ApiError::Unauthorized { code, message, .. } => ApiError::Unauthorized {
                code,
                message,
                hint,
            },
            other => other,
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Forbidden {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::NotFound(format!("{what} not found"))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } | ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } | ApiError::Taken { .. } => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Invalid { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::Taken { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedEncoding(_) => "unsupported_content_encoding",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Busy => "database_busy",
            ApiError::InsufficientStorage => "storage_full",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// How long the client is told to wait before trying again (`Retry-After`, and
    /// `retryAfterSeconds` in the body), for the refusals that pass.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ApiError::Busy => Some(BUSY_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    /// The error as the API answers it: `{error, code}` with `message`, and what else helps the
    /// client act on it (the field at fault, how to authenticate, the existing id, how long to
    /// wait). MCP tool errors carry the same object.
    pub fn body(&self, message: &str) -> serde_json::Value {
        match self {
            ApiError::Invalid { field, .. } => {
                serde_json::json!({ "error": message, "code": self.code(), "field": field })
            }
            ApiError::Unauthorized { hint, .. } => {
                serde_json::json!({ "error": message, "code": self.code(), "hint": hint.text() })
            }
            ApiError::Taken { id_field, id, .. } => {
                serde_json::json!({ "error": message, "code": self.code(), *id_field: id })
            }
            _ => match self.retry_after() {
                Some(secs) => serde_json::json!({
                    "error": message,
                    "code": self.code(),
                    "retryAfterSeconds": secs
                }),
                None => serde_json::json!({ "error": message, "code": self.code() }),
            },
        }
    }

    /// The JSON answer. A 500 is logged here, once, with its cause.
    pub fn into_response(self) -> Response {
        self.into_response_as(|body| body)
    }

    /// The answer with its status and headers, its JSON body (`{error, code, ...}`) put as `wrap`
    /// says: the MCP endpoint carries it inside a JSON-RPC error.
    pub fn into_response_as(
        self,
        wrap: impl FnOnce(serde_json::Value) -> serde_json::Value,
    ) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(cause) => {
                log::error!("internal error: {cause}");
                "the server failed to handle this request; it has been logged".to_string()
            }
            ApiError::InsufficientStorage => {
                log::error!("a write was refused: the disk holding the database is full");
                self.to_string()
            }
            ApiError::Unavailable(why) => {
                log::error!("a request was refused: {why}");
                why.clone()
            }
            ApiError::Busy => {
                log::warn!("a write was refused: another process held the database's write lock past the busy timeout");
                self.to_string()
            }
            other => other.to_string(),
        };
        let body = wrap(self.body(&message));
        let mut response = crate::http::reply::json(status, &body);
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        match &self {
            ApiError::Unauthorized { hint, .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(hint.challenge()),
                );
            }
            ApiError::MethodNotAllowed { allowed } if !allowed.is_empty() => {
                if let Ok(value) = HeaderValue::from_str(allowed) {
                    headers.insert(header::ALLOW, value);
                }
            }
            ApiError::UnsupportedEncoding(_) => {
                // RFC 9110, 12.5.3: a 415 for a content coding says which codings are accepted.
                headers.insert(
                    header::ACCEPT_ENCODING,
                    HeaderValue::from_static("identity"),
                );
            }
            ApiError::PayloadTooLarge { .. } | ApiError::RequestTimeout(_) => {
                // Whatever the client still sends is not read: this connection ends here.
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

/// A 413's message: the limit, and the body's size when it was announced.
fn too_large(limit: u64, declared: Option<u64>) -> String {
    let limit_text = ByteSize(limit).exact();
    match declared {
        // "1 MiB (1048633 bytes)" against "1 MiB (1048576 bytes)" reads as no excess: say it.
        Some(size) => format!(
            "the request body is {}, {} over the limit for this route, {limit_text}",
            ByteSize(size).exact(),
            ByteSize(size.saturating_sub(limit)).exact()
        ),
        None => format!("the request body is larger than the limit for this route, {limit_text}"),
    }
}

/// The end of a 405's message: which methods the path takes, if known.
fn takes(allowed: &str) -> String {
    if allowed.is_empty() {
        String::new()
    } else {
        format!("; this path takes {allowed}")
    }
}

/// How to authenticate, in every 401 answer (as the hosted API does), fitting the route: where
/// keys are accepted, how to send one; where only a person's session is, how to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthHint {
    /// Routes that take an API key (most of them).
    ApiKey,
    /// Routes that take a signed-in person's session only (keys get 403 there).
    SignIn,
    /// Signing in itself, when the email or password is wrong.
    Credentials,
}

impl AuthHint {
    /// The `WWW-Authenticate` challenge that goes with the hint.
    pub fn challenge(self) -> &'static str {
        match self {
            AuthHint::ApiKey => API_KEY_CHALLENGE,
            AuthHint::SignIn | AuthHint::Credentials => SESSION_CHALLENGE,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            AuthHint::ApiKey => API_KEY_HINT,
            AuthHint::SignIn => SIGN_IN_HINT,
            AuthHint::Credentials => CREDENTIALS_HINT,
        }
    }
}

/// The hint where keys are accepted.
pub const API_KEY_HINT: &str = "send an API key as the X-API-Key header (X-API-Key: ar_live_...) \
     or as Authorization: Bearer ar_live_...; make one on the settings page (/settings#keys) or with \
     `artifact-review key create`. Browser pages use the session of a person signed in at /login.";

/// The hint where only a person's session is accepted.
pub const SIGN_IN_HINT: &str = "sign in at /login (or POST /api/v1/session with your email and \
     password) and send the session cookie it sets; this route does not take API keys.";

/// The hint when signing in failed.
pub const CREDENTIALS_HINT: &str = "check the email and the password; for a forgotten password, \
     ask an admin of this server for a password-reset link (Team page, or `artifact-review user \
     set-password` on the server).";

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::Conflict(message) => ApiError::Conflict {
                code: "conflict",
                message,
            },
            StoreError::Refused { code, message } => ApiError::BadRequest { code, message },
            StoreError::Forbidden { code, message } => ApiError::Forbidden { code, message },
            StoreError::NoLongerActing { code, message } => ApiError::unauthorized(code, message),
            StoreError::DiskFull => ApiError::InsufficientStorage,
            StoreError::Busy => ApiError::Busy,
            StoreError::FileReplaced => ApiError::Unavailable(
                "the server's database file was deleted or replaced while it runs, so nothing was stored; its operator must restart it".into(),
            ),
            StoreError::Duplicate {
                code,
                message,
                existing_id,
            } => ApiError::Taken {
                code,
                message,
                id_field: "existingId",
                id: crate::http::ids::wire(existing_id),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// For `map_err` after a store call: `NotFound` becomes a 404 saying "`what` not found"; any other
/// store error maps as usual.
pub fn not_found_as(what: impl Into<String>) -> impl FnOnce(StoreError) -> ApiError {
    let what = what.into();
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(format!("{what} not found")),
        other => other.into(),
    }
}

impl From<TextError> for ApiError {
    fn from(e: TextError) -> Self {
        let code = match e {
            TextError::TooLong { .. } => "too_long",
            TextError::TooShort { .. } => "too_short",
            TextError::Empty { .. } => "required",
            _ => "invalid_text",
        };
        ApiError::Invalid {
            field: e.field().into(),
            code,
            message: e.to_string(),
        }
    }
}

impl From<crate::secrets::RandomError> for ApiError {
    fn from(e: crate::secrets::RandomError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<crate::password::PasswordError> for ApiError {
    fn from(e: crate::password::PasswordError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Turns warp's rejections (no route matched, wrong method, anything a built-in filter refused)
/// into our JSON errors. Our own handlers never reject, so this only sees routing outcomes.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if rejection.is_not_found() {
        ApiError::NotFound("no such route; see GET /api/v1 for the list of endpoints".into())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed {
            allowed: String::new(),
        }
    } else {
        ApiError::bad_request("bad_request", format!("{rejection:?}"))
    };
    Ok(error.into_response())
}
