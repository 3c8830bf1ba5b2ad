//! One error type for pages. A handler (or an extractor) returns a
//! [`PageError`]; the `error_pages` layer (in `web`) renders it as a page in
//! the visitor's language, with the status it calls for. Internal failures are
//! logged with their whole chain of causes, never shown.

use std::error::Error;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use guichet_engine::with_causes as chain;
use serde::Serialize;

/// What a page handler answers.
pub type PageResult = Result<Response, PageError>;

/// Why a page cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Nothing here, or nothing this visitor may see (404).
    #[error("not found")]
    NotFound,
    /// The page needs a signed-in candidate (401).
    #[error("sign-in needed")]
    SignInNeeded,
    /// The page needs a signed-in staff member (401).
    #[error("staff sign-in needed")]
    StaffSignInNeeded,
    /// The signed-in staff member may not do this (403).
    #[error("forbidden")]
    Forbidden,
    /// A form came without its CSRF token, or with another one (403).
    #[error("CSRF token missing or wrong")]
    CsrfRefused,
    /// Too many failed attempts lately (429).
    #[error("too many attempts")]
    Throttled,
    /// Too many failures lately for this account: wait this many seconds (429).
    #[error("account slowed down for {0} s")]
    SlowedDown(u64),
    /// Too many changes lately by this candidate: wait this many seconds (429).
    #[error("changes paused for {0} s")]
    WritesPaused(u64),
    /// Something failed on the server's side (500).
    #[error("internal failure")]
    Internal(#[source] Box<dyn Error + Send + Sync>),
}

impl PageError {
    /// An internal failure caused by `error`.
    pub fn internal(error: impl Error + Send + Sync + 'static) -> Self {
        PageError::Internal(Box::new(error))
    }

    fn status(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::SignInNeeded | PageError::StaffSignInNeeded => StatusCode::UNAUTHORIZED,
            PageError::CsrfRefused | PageError::Forbidden => StatusCode::FORBIDDEN,
            PageError::Throttled | PageError::SlowedDown(_) | PageError::WritesPaused(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::account_store::AccountError> for PageError {
    fn from(error: crate::account_store::AccountError) -> Self {
        PageError::internal(error)
    }
}

impl From<guichet_engine::EngineError> for PageError {
    fn from(error: guichet_engine::EngineError) -> Self {
        PageError::internal(error)
    }
}

/// Which page an error response is to be rendered as, left in the response's
/// extensions for the `error_pages` layer (which holds the templates).
#[derive(Debug, Clone, Copy)]
struct ErrorPage(ErrorKind);

#[derive(Debug, Clone, Copy)]
enum ErrorKind {
    NotFound,
    SignInNeeded,
    StaffSignInNeeded,
    Forbidden,
    CsrfRefused,
    Throttled,
    SlowedDown(u64),
    WritesPaused(u64),
    Internal,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let kind = match &self {
            PageError::NotFound => ErrorKind::NotFound,
            PageError::SignInNeeded => ErrorKind::SignInNeeded,
            PageError::StaffSignInNeeded => ErrorKind::StaffSignInNeeded,
            PageError::Forbidden => ErrorKind::Forbidden,
            PageError::CsrfRefused => ErrorKind::CsrfRefused,
            PageError::Throttled => ErrorKind::Throttled,
            PageError::SlowedDown(seconds) => ErrorKind::SlowedDown(*seconds),
            PageError::WritesPaused(seconds) => ErrorKind::WritesPaused(*seconds),
            PageError::Internal(cause) => {
                tracing::error!(error = %chain(cause.as_ref()), "request failed");
                ErrorKind::Internal
            }
        };
        let mut response = self.status().into_response();
        response.extensions_mut().insert(ErrorPage(kind));
        response
    }
}

/// A page with a heading, a text and an optional link.
#[derive(Serialize)]
pub struct MessagePage {
    /// The heading.
    pub heading: String,
    /// The text.
    pub message: String,
    /// A link onwards.
    pub link: Option<Link>,
}

/// A link with its words.
#[derive(Serialize)]
pub struct Link {
    /// The words.
    pub label: String,
    /// Where it goes.
    pub href: String,
}

/// The page an error response is to be shown as: its template, the words
/// keys of its heading and text, its link onwards (words key and path), and
/// the number of seconds its text speaks of, if any.
pub struct ErrorWords {
    /// Template.
    pub template: &'static str,
    /// Words key of the heading.
    pub heading: &'static str,
    /// Words key of the text.
    pub text: &'static str,
    /// Words key and path of the link onwards.
    pub link: Option<(&'static str, &'static str)>,
    /// Seconds to wait, for the texts that say `{seconds}`.
    pub seconds: Option<u64>,
}

impl ErrorWords {
    /// The page `response` is to be shown as, if it is a [`PageError`]'s.
    pub fn of(response: &Response) -> Option<ErrorWords> {
        let ErrorPage(kind) = response.extensions().get::<ErrorPage>().copied()?;
        let (template, heading, text, link) = match kind {
            ErrorKind::NotFound => ("error.html", "not_found", "not_found_text", None),
            ErrorKind::Internal => ("error.html", "internal_error", "internal_error_text", None),
            ErrorKind::SignInNeeded => (
                "message.html",
                "sign_in_needed",
                "sign_in_needed_text",
                Some(("sign_in", "/connexion")),
            ),
            ErrorKind::StaffSignInNeeded => (
                "message.html",
                "sign_in_needed",
                "staff_sign_in_needed_text",
                Some(("sign_in", "/staff/connexion")),
            ),
            ErrorKind::Forbidden => ("error.html", "forbidden", "forbidden_text", None),
            ErrorKind::CsrfRefused => ("message.html", "csrf_title", "csrf_text", None),
            ErrorKind::Throttled => ("message.html", "throttled_title", "throttled_text", None),
            ErrorKind::SlowedDown(_) => ("message.html", "throttled_title", "slowed_text", None),
            ErrorKind::WritesPaused(_) => {
                ("message.html", "throttled_title", "writes_paused", None)
            }
        };
        let seconds = match kind {
            ErrorKind::SlowedDown(seconds) | ErrorKind::WritesPaused(seconds) => Some(seconds),
            _ => None,
        };
        Some(ErrorWords {
            template,
            heading,
            text,
            link,
            seconds,
        })
    }
}

/// Runs blocking work (sled with its fsync, argon2) off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(PageError::internal)
}
