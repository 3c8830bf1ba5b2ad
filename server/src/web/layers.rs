//! What every response passes through, around the handlers: the error
//! pages in the visitor's language, the security headers, forms read whole
//! first, no cache for signed-in pages, a chosen language remembered.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error;
use super::session;
use super::site::Lang;
use super::state::AppState;

/// Renders the page of every [`PageError`](super::error::PageError)
/// response, in the visitor's language.
pub(super) async fn error_pages(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    error_page(&state, lang, response)
}

/// The page of `response` if it is a [`PageError`](super::error::PageError)'s, in `lang`; otherwise
/// `response` itself.
pub(super) fn error_page(state: &AppState, lang: Lang, response: Response) -> Response {
    let Some(words) = error::ErrorWords::of(&response) else {
        return response;
    };
    let mut message = lang.t(words.text);
    if let Some(seconds) = words.seconds {
        message = message.replace("{seconds}", &seconds.to_string());
    }
    let page = error::MessagePage {
        heading: lang.t(words.heading),
        message,
        link: words.link.map(|(label, path)| error::Link {
            label: lang.t(label),
            href: lang.href(path),
        }),
    };
    state.render(lang, words.template, response.status(), &page)
}

/// The pages' policy: nothing but this server's own files, no framing; the
/// styles of `style_nonce` also, for a page whose script writes its own
/// (the definition editor).
pub fn content_security_policy(style_nonce: Option<&str>) -> String {
    let styles = style_nonce.map_or_else(String::new, |nonce| format!(" 'nonce-{nonce}'"));
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'{styles}; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Headers every response carries: no inline script, no framing, no sniffing.
pub(super) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A response that set its own policy (a piece shown inline) keeps it.
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        if !headers.contains_key(name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    if !headers.contains_key("content-security-policy") {
        if let Ok(policy) = HeaderValue::from_str(&content_security_policy(None)) {
            headers.insert("content-security-policy", policy);
        }
    }
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "same-origin");
    response
}

/// The most a form (not an upload) may hold, read before its handler runs:
/// axum's own default limit, which the handlers then apply.
const FORM_LIMIT: usize = 2 << 20;

/// Reads a posted form whole before the handler runs. A request refused
/// before its body is read (a 401 without a session, a 404 outside one's
/// scope) would otherwise end its connection while the browser is still
/// sending: the browser would show a reset connection instead of the page.
/// Uploads (multipart) are read by their handler, which cuts them at the
/// piece's limit.
pub(super) async fn read_forms_first(request: Request, next: Next) -> Response {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(bytes) => next.run(Request::from_parts(parts, bytes.into())).await,
        Err(_) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    }
}

/// What a signed-in visitor is shown is theirs alone: no cache, shared or
/// the browser's, keeps it (static assets say otherwise for themselves).
pub(super) async fn private_pages(request: Request, next: Next) -> Response {
    let signed_in = [session::SESSION_COOKIE, session::STAFF_SESSION_COOKIE]
        .iter()
        .any(|name| session::cookie(request.headers(), name).is_some());
    let mut response = next.run(request).await;
    if signed_in && !response.headers().contains_key(header::CACHE_CONTROL) {
        let no_store = HeaderValue::from_static("no-store");
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, no_store);
    }
    response
}

/// A language chosen with `?lang=` is kept (a cookie) for pages reached
/// without it.
pub(super) async fn remember_language(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let kept = session::cookie(request.headers(), session::LANGUAGE_COOKIE);
    let chosen =
        Lang::chosen(request.uri(), state.site()).filter(|l| kept.as_deref() != Some(l.code()));
    let response = next.run(request).await;
    let cookie = chosen.map(|lang| {
        let year = Some(365 * 24 * 3600);
        let secure = state.secure_cookies;
        session::set_cookie(secure, session::LANGUAGE_COOKIE, lang.code(), "Lax", year)
    });
    session::with_cookie(response, cookie)
}
