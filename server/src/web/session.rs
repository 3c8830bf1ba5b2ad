//! Cookies, CSRF tokens, the sign-in session cookie and the throttle on
//! failed attempts: what every page and form of the site relies on.
//!
//! Every form carries a CSRF token (double submit: a `SameSite=Strict` cookie
//! and a hidden field that must match).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use crate::account_store::random_token;

/// Failed attempts allowed per minute, per account and per address.
const ATTEMPTS_PER_MINUTE: usize = 10;

/// The cookie naming the signed-in session.
pub const SESSION_COOKIE: &str = "guichet_session";
/// The cookie holding this browser's CSRF token.
const CSRF_COOKIE: &str = "guichet_csrf";
/// The cookie remembering the language a visitor chose.
pub const LANGUAGE_COOKIE: &str = "guichet_lang";

/// How long the links sent by mail work.
pub struct LinkValidity {
    /// Activation and email-change links.
    pub activation: Duration,
    /// Password-reset links.
    pub password_reset: Duration,
}

/// The value of cookie `name` in a request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value: `HttpOnly`, for the whole site, `Secure` over https.
pub fn set_cookie(
    secure: bool,
    name: &str,
    value: &str,
    same_site: &str,
    max_age: Option<u64>,
) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Adds a `Set-Cookie` header to `response`, if there is one.
pub fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The CSRF token of this browser, and the cookie to set if it is new.
pub fn csrf_token(secure: bool, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 64) {
        Some(token) => (token, None),
        None => {
            let token = random_token().unwrap_or_default();
            let set = set_cookie(secure, CSRF_COOKIE, &token, "Strict", None);
            (token, Some(set))
        }
    }
}

/// Whether a form's `csrf` field matches this browser's token.
pub fn csrf_valid(headers: &HeaderMap, field: Option<&str>) -> bool {
    match (cookie(headers, CSRF_COOKIE), field) {
        (Some(cookie), Some(field)) => !cookie.is_empty() && cookie == field,
        _ => false,
    }
}

/// Failed attempts in the last minute, by key (`ip:…`, `account:…`).
#[derive(Default)]
pub struct Throttle {
    failures: std::sync::Mutex<HashMap<String, Vec<Instant>>>,
}

impl Throttle {
    /// Whether any of `keys` failed too often in the last minute.
    pub fn recent(&self, keys: &[String]) -> bool {
        let Ok(mut failures) = self.failures.lock() else {
            return true;
        };
        let now = Instant::now();
        keys.iter().any(|key| {
            let list = failures.entry(key.clone()).or_default();
            list.retain(|at| now.duration_since(*at) < Duration::from_secs(60));
            list.len() >= ATTEMPTS_PER_MINUTE
        })
    }

    /// Counts a failure against each of `keys`.
    pub fn fail(&self, keys: &[String]) {
        if let Ok(mut failures) = self.failures.lock() {
            // Many distinct addresses must not grow the table without end.
            if failures.len() > 10_000 {
                let now = Instant::now();
                failures.retain(|_, list| {
                    list.iter()
                        .any(|at| now.duration_since(*at) < Duration::from_secs(60))
                });
            }
            for key in keys {
                failures
                    .entry(key.clone())
                    .or_default()
                    .push(Instant::now());
            }
        }
    }
}
