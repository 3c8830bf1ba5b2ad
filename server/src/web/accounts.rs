//! Account pages: sign-up, activation, sign-in and out, forgotten password,
//! email change, and the candidate's dashboard.
//!
//! Every form carries a CSRF token (double submit: a `SameSite=Strict` cookie
//! and a hidden field that must match). Answers never tell whether an address
//! has an account.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use guichet_engine::{profile_state, Candidate};
use jiff::Timestamp;
use serde_json::{json, Value};

use super::strings::t;
use super::{language, AppState, LanguageChoice};
use crate::accounts::{random_token, Account, Purpose, TokenProblem};

/// Failed attempts allowed per minute, per account and per address.
const ATTEMPTS_PER_MINUTE: usize = 10;

const SESSION_COOKIE: &str = "guichet_session";
const CSRF_COOKIE: &str = "guichet_csrf";

type Fields = HashMap<String, String>;

/// How long the links sent by mail work.
pub struct LinkValidity {
    /// Activation and email-change links.
    pub activation: Duration,
    /// Password-reset links.
    pub password_reset: Duration,
}

/// Failed attempts in the last minute, by key (`ip:…`, `account:…`).
#[derive(Default)]
pub struct Throttle {
    failures: std::sync::Mutex<HashMap<String, Vec<Instant>>>,
}

impl Throttle {
    fn recent(&self, keys: &[String]) -> bool {
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

    fn fail(&self, keys: &[String]) {
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

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    same_site: &str,
    max_age: Option<u64>,
) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if state.secure_cookies {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CSRF token of this browser, and the cookie to set if it is new.
pub(super) fn csrf(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 64) {
        Some(token) => (token, None),
        None => {
            let token = random_token().unwrap_or_default();
            let set = set_cookie(state, CSRF_COOKIE, &token, "Strict", None);
            (token, Some(set))
        }
    }
}

/// Renders `template` with the common values, those `fill` adds, and this
/// browser's CSRF token (setting its cookie when it is new).
pub(super) fn render_with_csrf(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    template: &str,
    status: StatusCode,
    fill: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Response {
    let (token, new_cookie) = csrf(state, headers);
    let mut values = state.pages.common(&state.engine, lang);
    if let Value::Object(map) = &mut values {
        fill(map);
        map.insert("csrf".into(), json!(token));
    }
    with_cookie(state.pages.render(template, status, values), new_cookie)
}

pub(super) fn csrf_valid(headers: &HeaderMap, form: &Fields) -> bool {
    match (cookie(headers, CSRF_COOKIE), form.get("csrf")) {
        (Some(cookie), Some(field)) => !cookie.is_empty() && &cookie == field,
        _ => false,
    }
}

pub(super) fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn message(
    state: &AppState,
    lang: &str,
    status: StatusCode,
    heading: &str,
    text: &str,
    link: Option<(&str, String)>,
) -> Response {
    let mut values = state.pages.common(&state.engine, lang);
    if let Value::Object(map) = &mut values {
        map.insert("heading".into(), json!(t(lang, heading)));
        map.insert("message".into(), json!(t(lang, text)));
        map.insert(
            "link".into(),
            link.map_or(
                Value::Null,
                |(label, href)| json!({"label": t(lang, label), "href": href}),
            ),
        );
    }
    state.pages.render("message.html", status, values)
}

/// A message page with words given as they are.
pub(super) fn message_text(
    state: &AppState,
    lang: &str,
    status: StatusCode,
    heading: &str,
    text: &str,
) -> Response {
    let mut values = state.pages.common(&state.engine, lang);
    if let Value::Object(map) = &mut values {
        map.insert("heading".into(), json!(heading));
        map.insert("message".into(), json!(text));
        map.insert("link".into(), Value::Null);
    }
    state.pages.render("message.html", status, values)
}

pub(super) fn csrf_refused(state: &AppState, lang: &str) -> Response {
    message(
        state,
        lang,
        StatusCode::FORBIDDEN,
        "csrf_title",
        "csrf_text",
        None,
    )
}

/// One input of a form page.
struct Field<'a> {
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    autocomplete: &'a str,
    help: Option<&'a str>,
}

const fn field<'a>(
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    autocomplete: &'a str,
) -> Field<'a> {
    Field {
        name,
        label,
        kind,
        autocomplete,
        help: None,
    }
}

struct FormPage<'a> {
    heading: &'a str,
    intro: Option<&'a str>,
    action: String,
    submit: &'a str,
    fields: Vec<Field<'a>>,
    links: Vec<(&'a str, String)>,
}

fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    page: &FormPage<'_>,
    values: &Fields,
    errors: &HashMap<&str, String>,
    form_error: Option<String>,
) -> Response {
    let fields: Vec<Value> = page
        .fields
        .iter()
        .map(|f| {
            // Passwords are never sent back into the page.
            let value = if f.kind == "password" { "" } else { values.get(f.name).map_or("", String::as_str) };
            json!({
                "name": f.name, "label": t(lang, f.label), "type": f.kind, "autocomplete": f.autocomplete,
                "help": f.help.map(|h| t(lang, h)), "value": value, "error": errors.get(f.name),
            })
        })
        .collect();
    let status = if errors.is_empty() && form_error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with_csrf(state, headers, lang, "form.html", status, |map| {
        map.insert("heading".into(), json!(t(lang, page.heading)));
        map.insert("intro".into(), json!(page.intro.map(|i| t(lang, i))));
        map.insert("action".into(), json!(page.action));
        map.insert("submit".into(), json!(t(lang, page.submit)));
        map.insert("fields".into(), json!(fields));
        map.insert(
            "errors".into(),
            json!(!errors.is_empty() || form_error.is_some()),
        );
        map.insert("form_error".into(), json!(form_error));
        let links: Vec<Value> = page
            .links
            .iter()
            .map(|(label, href)| json!({"label": t(lang, label), "href": href}))
            .collect();
        map.insert("links".into(), json!(links));
    })
}

/// A form page as it first shows: empty, without messages.
fn blank_form(state: &AppState, headers: &HeaderMap, lang: &str, page: &FormPage<'_>) -> Response {
    form_page(
        state,
        headers,
        lang,
        page,
        &Fields::new(),
        &HashMap::new(),
        None,
    )
}

fn valid_email(text: &str) -> bool {
    let Some((user, host)) = text.split_once('@') else {
        return false;
    };
    !user.is_empty()
        && host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && !text.contains(char::is_whitespace)
        && text.len() <= 254
}

/// The first problem of a new password, as a words key.
fn password_problem(password: &str, account: &Account) -> Option<&'static str> {
    let length = password.chars().count();
    if length < 10 {
        return Some("password_short");
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|present| **present)
    .count();
    if classes < 3 && length < 16 {
        return Some("password_weak");
    }
    let lower = password.to_lowercase();
    let local = account.email.split('@').next().unwrap_or("");
    let personal = [local, &account.first_name, &account.last_name]
        .iter()
        .any(|part| part.chars().count() >= 3 && lower.contains(&part.to_lowercase()));
    personal.then_some("password_personal")
}

fn required(form: &Fields, names: &[&'static str], lang: &str) -> HashMap<&'static str, String> {
    names
        .iter()
        .filter(|name| form.get(**name).is_none_or(|v| v.trim().is_empty()))
        .map(|name| (*name, t(lang, "required")))
        .collect()
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// What every public form post goes through: the CSRF check, then the
/// throttle on the client's address (and on the account it names, if any).
/// Gives the throttle keys to charge a failure to.
fn admit(
    state: &AppState,
    lang: &str,
    headers: &HeaderMap,
    form: &Fields,
    address: &SocketAddr,
    account: Option<&str>,
) -> Result<Vec<String>, Box<Response>> {
    if !csrf_valid(headers, form) {
        return Err(Box::new(csrf_refused(state, lang)));
    }
    let mut keys = vec![format!("ip:{}", address.ip())];
    if let Some(email) = account {
        keys.push(format!("account:{email}"));
    }
    if state.throttle.recent(&keys) {
        let status = StatusCode::TOO_MANY_REQUESTS;
        let page = message(
            state,
            lang,
            status,
            "throttled_title",
            "throttled_text",
            None,
        );
        return Err(Box::new(page));
    }
    Ok(keys)
}

/// The signed-in account, if the session cookie names a live session.
pub(super) async fn signed_in(state: &Arc<AppState>, headers: &HeaderMap) -> Option<Account> {
    let id = cookie(headers, SESSION_COOKIE)?;
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let session = state.accounts.session(&id, now()).ok()??;
        state.accounts.get(&session.account).ok()?
    })
    .await
    .ok()?
}

fn link(state: &AppState, path: &str, token: &str) -> String {
    format!("{}/{path}/{token}", state.base_url.trim_end_matches('/'))
}

/// Queues an account mail of the definition, if the definition has one for `key`.
fn send_account_mail(
    state: &AppState,
    key: &str,
    account: &Account,
    to: &str,
    link: &str,
    expires_at: Timestamp,
    lang: &str,
) {
    let mails = &state.engine.definition().file().accounts.mails;
    let mail = match key {
        "activation" => &mails.activation,
        "activated" => &mails.activated,
        "password_reset" => &mails.password_reset,
        _ => &mails.email_change,
    };
    let Some(mail) = mail else {
        tracing::warn!(
            kind = key,
            "the definition declares no mail for this account event"
        );
        return;
    };
    let expires = expires_at
        .to_zoned(state.engine.definition().timezone().clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string();
    let context = json!({
        "account": {"first_name": account.first_name, "last_name": account.last_name, "email": to, "identifier": account.email},
        "link": link,
        "expires_at": expires,
    });
    match state
        .engine
        .queue_account_mail(mail, to, lang, &context, now())
    {
        Ok(_) => {
            if state.log_links {
                // Without SMTP, the person running the server needs the link.
                tracing::info!(kind = key, to, %link, "account link");
            }
            state.mail_wake.notify_one();
        }
        Err(error) => tracing::error!(%error, kind = key, "account mail not queued"),
    }
}

fn signup_page(lang: &str) -> FormPage<'static> {
    FormPage {
        heading: "sign_up",
        intro: Some("sign_up_intro"),
        action: format!("/inscription?lang={lang}"),
        submit: "sign_up_button",
        fields: vec![
            field("last_name", "last_name", "text", "family-name"),
            field("first_name", "first_name", "text", "given-name"),
            field("email", "email", "email", "email"),
        ],
        links: vec![("sign_in", format!("/connexion?lang={lang}"))],
    }
}

/// `GET /inscription`
pub async fn signup_form(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    blank_form(&state, &headers, lang, &signup_page(lang))
}

/// `POST /inscription`
pub async fn signup(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let lang = language(&choice, &headers);
    let keys = match admit(&state, lang, &headers, &form, &address, None) {
        Ok(keys) => keys,
        Err(refused) => return *refused,
    };
    let mut errors = required(&form, &["last_name", "first_name", "email"], lang);
    let email = form.get("email").map_or("", |e| e.trim()).to_lowercase();
    if !email.is_empty() && !valid_email(&email) {
        errors.insert("email", t(lang, "email_invalid"));
    }
    if !errors.is_empty() {
        return form_page(
            &state,
            &headers,
            lang,
            &signup_page(lang),
            &form,
            &errors,
            None,
        );
    }
    state.throttle.fail(&keys); // every sign-up counts against the address
    let first_name = form.get("first_name").map_or("", |v| v.trim()).to_owned();
    let last_name = form.get("last_name").map_or("", |v| v.trim()).to_owned();
    let worker = Arc::clone(&state);
    let lang_owned = lang.to_owned();
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let (account, _created) = worker
            .accounts
            .create(&first_name, &last_name, &email, now())?;
        // An activated account gets nothing: the answer is the same either way.
        if account.password.is_none() {
            let (token, expires_at) = worker.accounts.issue_token(
                Purpose::Activation,
                &account.id,
                worker.links.activation,
                now(),
            )?;
            let url = link(&worker, "activation", &token);
            send_account_mail(
                &worker,
                "activation",
                &account,
                &account.email,
                &url,
                expires_at,
                &lang_owned,
            );
        }
        Ok(())
    })
    .await;
    if let Ok(Err(error)) | Err(error) = result.map_err(anyhow::Error::from) {
        tracing::error!(%error, "sign-up failed");
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    message(
        &state,
        lang,
        StatusCode::OK,
        "sent_title",
        "sent_text",
        None,
    )
}

fn token_problem(state: &AppState, lang: &str, problem: TokenProblem, again: &str) -> Response {
    let heading = match problem {
        TokenProblem::Used => "link_used",
        TokenProblem::Expired => "link_expired",
        TokenProblem::Unknown => "link_unknown",
    };
    message(
        state,
        lang,
        StatusCode::GONE,
        heading,
        "link_help",
        Some(("new_link", format!("{again}?lang={lang}"))),
    )
}

fn password_page(lang: &str, path: &str, token: &str, heading: &'static str) -> FormPage<'static> {
    let mut password = field("password", "password", "password", "new-password");
    password.help = Some("password_help");
    FormPage {
        heading,
        intro: None,
        action: format!("/{path}/{token}?lang={lang}"),
        submit: "choose_password_button",
        fields: vec![
            password,
            field(
                "password_confirm",
                "password_confirm",
                "password",
                "new-password",
            ),
        ],
        links: Vec::new(),
    }
}

/// Which page a token belongs to, and where to ask for a new one.
fn token_kind(path: &str) -> (&'static str, &'static str) {
    if path == "activation" {
        ("choose_password", "/inscription")
    } else {
        ("new_password", "/mot-de-passe-oublie")
    }
}

/// `GET /activation/{token}`
pub async fn activation_form(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    password_form(state, "activation", token, choice, headers).await
}

/// `GET /mot-de-passe/{token}`
pub async fn reset_form(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    password_form(state, "mot-de-passe", token, choice, headers).await
}

/// `POST /activation/{token}`
pub async fn activate(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    set_password(state, "activation", token, choice, headers, form).await
}

/// `POST /mot-de-passe/{token}`
pub async fn reset(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    set_password(state, "mot-de-passe", token, choice, headers, form).await
}

/// The password page behind a mailed link.
async fn password_form(
    state: Arc<AppState>,
    path: &str,
    token: String,
    choice: LanguageChoice,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    let (heading, again) = token_kind(path);
    match state.accounts.check_token(&token, now()) {
        Ok(Ok(_)) => form_page(
            &state,
            &headers,
            lang,
            &password_page(lang, path, &token, heading),
            &Fields::new(),
            &HashMap::new(),
            None,
        ),
        Ok(Err(problem)) => token_problem(&state, lang, problem, again),
        Err(error) => {
            tracing::error!(%error, "token check failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// `POST /activation/{token}` and `POST /mot-de-passe/{token}`: choose a password, then be signed in.
async fn set_password(
    state: Arc<AppState>,
    path: &str,
    token: String,
    choice: LanguageChoice,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let lang = language(&choice, &headers);
    if !csrf_valid(&headers, &form) {
        return csrf_refused(&state, lang);
    }
    let (heading, again) = token_kind(path);
    let expected = if path == "activation" {
        Purpose::Activation
    } else {
        Purpose::PasswordReset
    };
    let account = match state.accounts.check_token(&token, now()) {
        Ok(Ok((account, purpose))) if purpose == expected => {
            state.accounts.get(&account).ok().flatten()
        }
        Ok(Ok(_)) => return token_problem(&state, lang, TokenProblem::Unknown, again),
        Ok(Err(problem)) => return token_problem(&state, lang, problem, again),
        Err(_) => None,
    };
    let Some(mut account) = account else {
        return token_problem(&state, lang, TokenProblem::Unknown, again);
    };
    let password = form.get("password").cloned().unwrap_or_default();
    let mut errors = required(&form, &["password", "password_confirm"], lang);
    if errors.is_empty() {
        if let Some(problem) = password_problem(&password, &account) {
            errors.insert("password", t(lang, problem));
        } else if form.get("password_confirm") != Some(&password) {
            errors.insert("password_confirm", t(lang, "password_mismatch"));
        }
    }
    if !errors.is_empty() {
        return form_page(
            &state,
            &headers,
            lang,
            &password_page(lang, path, &token, heading),
            &Fields::new(),
            &errors,
            None,
        );
    }
    let worker = Arc::clone(&state);
    let lang_owned = lang.to_owned();
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<String>> {
        // Used only now, once everything else is right: a mistyped password
        // does not burn the link.
        if worker.accounts.use_token(&token, now())?.is_err() {
            return Ok(None);
        }
        use argon2::password_hash::PasswordHasher;
        let hash = argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
            .to_string();
        let first_activation = account.password.is_none();
        account.password = Some(hash);
        if account.dossier.is_none() {
            let candidate = Candidate {
                last_name: account.last_name.clone(),
                first_name: account.first_name.clone(),
                email: account.email.clone(),
            };
            let dossier =
                worker
                    .engine
                    .create_dossier(&account.id, candidate, &lang_owned, now())?;
            account.dossier = Some(dossier.id);
        }
        worker.accounts.save(&account)?;
        if first_activation {
            let url = format!("{}/tableau-de-bord", worker.base_url.trim_end_matches('/'));
            send_account_mail(
                &worker,
                "activated",
                &account,
                &account.email,
                &url,
                now(),
                &lang_owned,
            );
        }
        Ok(Some(worker.accounts.open_session(&account.id, now())?))
    })
    .await;
    match result {
        Ok(Ok(Some(session))) => signed_in_redirect(&state, &headers, &session, lang),
        Ok(Ok(None)) => token_problem(&state, lang, TokenProblem::Used, again),
        Ok(Err(error)) => {
            tracing::error!(%error, "setting a password failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        Err(error) => {
            tracing::error!(%error, "setting a password failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Ends any previous session of this browser and hands it the new one.
fn signed_in_redirect(
    state: &AppState,
    headers: &HeaderMap,
    session: &str,
    lang: &str,
) -> Response {
    if let Some(previous) = cookie(headers, SESSION_COOKIE) {
        let _ = state.accounts.close_session(&previous);
    }
    let mut response = Redirect::to(&format!("/tableau-de-bord?lang={lang}")).into_response();
    let max_age = crate::accounts::SESSION_MAX.as_secs();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, SESSION_COOKIE, session, "Lax", Some(max_age)),
    );
    response
}

fn signin_page(lang: &str) -> FormPage<'static> {
    FormPage {
        heading: "sign_in",
        intro: None,
        action: format!("/connexion?lang={lang}"),
        submit: "sign_in_button",
        fields: vec![
            field("email", "identifier", "email", "username"),
            field("password", "password", "password", "current-password"),
        ],
        links: vec![
            ("forgot", format!("/mot-de-passe-oublie?lang={lang}")),
            ("sign_up", format!("/inscription?lang={lang}")),
        ],
    }
}

/// `GET /connexion`
pub async fn signin_form(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    blank_form(&state, &headers, lang, &signin_page(lang))
}

/// `POST /connexion`
pub async fn signin(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let lang = language(&choice, &headers);
    let email = form.get("email").map_or("", |e| e.trim()).to_lowercase();
    let keys = match admit(&state, lang, &headers, &form, &address, Some(&email)) {
        Ok(keys) => keys,
        Err(refused) => return *refused,
    };
    let password = form.get("password").cloned().unwrap_or_default();
    let worker = Arc::clone(&state);
    let checked = tokio::task::spawn_blocking(move || -> Option<String> {
        use argon2::password_hash::PasswordVerifier;
        let account = worker.accounts.find_by_email(&email).ok()??;
        let hash = account.password.as_deref()?;
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .ok()?;
        worker.accounts.open_session(&account.id, now()).ok()
    })
    .await
    .ok()
    .flatten();
    match checked {
        Some(session) => signed_in_redirect(&state, &headers, &session, lang),
        None => {
            state.throttle.fail(&keys);
            let error = Some(t(lang, "wrong_credentials"));
            form_page(
                &state,
                &headers,
                lang,
                &signin_page(lang),
                &form,
                &HashMap::new(),
                error,
            )
        }
    }
}

/// `POST /deconnexion`
pub async fn signout(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let lang = language(&choice, &headers);
    if !csrf_valid(&headers, &form) {
        return csrf_refused(&state, lang);
    }
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        let _ = state.accounts.close_session(&session);
    }
    let response = message(
        &state,
        lang,
        StatusCode::OK,
        "signed_out",
        "signed_out",
        Some(("sign_in", format!("/connexion?lang={lang}"))),
    );
    with_cookie(
        response,
        Some(set_cookie(&state, SESSION_COOKIE, "", "Lax", Some(0))),
    )
}

fn forgot_page(lang: &str) -> FormPage<'static> {
    FormPage {
        heading: "forgot",
        intro: Some("forgot_intro"),
        action: format!("/mot-de-passe-oublie?lang={lang}"),
        submit: "forgot_button",
        fields: vec![field("email", "identifier", "email", "username")],
        links: Vec::new(),
    }
}

/// `GET /mot-de-passe-oublie`
pub async fn forgot_form(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    blank_form(&state, &headers, lang, &forgot_page(lang))
}

/// `POST /mot-de-passe-oublie`
pub async fn forgot(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let lang = language(&choice, &headers);
    let email = form.get("email").map_or("", |e| e.trim()).to_lowercase();
    let keys = match admit(&state, lang, &headers, &form, &address, Some(&email)) {
        Ok(keys) => keys,
        Err(refused) => return *refused,
    };
    state.throttle.fail(&keys);
    let worker = Arc::clone(&state);
    let lang_owned = lang.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        let Ok(Some(account)) = worker.accounts.find_by_email(&email) else {
            return;
        };
        let purpose = if account.password.is_some() {
            Purpose::PasswordReset
        } else {
            Purpose::Activation
        };
        let (kind, path, ttl) = match purpose {
            Purpose::PasswordReset => (
                "password_reset",
                "mot-de-passe",
                worker.links.password_reset,
            ),
            _ => ("activation", "activation", worker.links.activation),
        };
        if let Ok((token, expires_at)) =
            worker
                .accounts
                .issue_token(purpose, &account.id, ttl, now())
        {
            let url = link(&worker, path, &token);
            send_account_mail(
                &worker,
                kind,
                &account,
                &account.email,
                &url,
                expires_at,
                &lang_owned,
            );
        }
    })
    .await;
    message(
        &state,
        lang,
        StatusCode::OK,
        "sent_title",
        "sent_text",
        None,
    )
}

fn email_page(lang: &str) -> FormPage<'static> {
    FormPage {
        heading: "change_email",
        intro: Some("change_email_intro"),
        action: format!("/compte/email?lang={lang}"),
        submit: "change_email_button",
        fields: vec![field("email", "new_email", "email", "email")],
        links: vec![("dashboard", format!("/tableau-de-bord?lang={lang}"))],
    }
}

pub(super) fn must_sign_in(state: &AppState, lang: &str) -> Response {
    message(
        state,
        lang,
        StatusCode::UNAUTHORIZED,
        "sign_in_needed",
        "sign_in_needed_text",
        Some(("sign_in", format!("/connexion?lang={lang}"))),
    )
}

/// `GET /compte/email`
pub async fn email_form(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    if signed_in(&state, &headers).await.is_none() {
        return must_sign_in(&state, lang);
    }
    blank_form(&state, &headers, lang, &email_page(lang))
}

/// `POST /compte/email`: a link goes to the new address.
pub async fn change_email(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let lang = language(&choice, &headers);
    if !csrf_valid(&headers, &form) {
        return csrf_refused(&state, lang);
    }
    let Some(account) = signed_in(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let email = form.get("email").map_or("", |e| e.trim()).to_lowercase();
    if !valid_email(&email) {
        let errors = HashMap::from([("email", t(lang, "email_invalid"))]);
        return form_page(
            &state,
            &headers,
            lang,
            &email_page(lang),
            &form,
            &errors,
            None,
        );
    }
    let worker = Arc::clone(&state);
    let lang_owned = lang.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        let purpose = Purpose::EmailChange {
            new_email: email.clone(),
        };
        if let Ok((token, expires_at)) =
            worker
                .accounts
                .issue_token(purpose, &account.id, worker.links.activation, now())
        {
            let url = link(&worker, "compte/email", &token);
            send_account_mail(
                &worker,
                "email_change",
                &account,
                &email,
                &url,
                expires_at,
                &lang_owned,
            );
        }
    })
    .await;
    message(
        &state,
        lang,
        StatusCode::OK,
        "sent_title",
        "sent_text",
        None,
    )
}

/// `GET /compte/email/{token}`: the new address is confirmed.
pub async fn confirm_email(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    let worker = Arc::clone(&state);
    let outcome = tokio::task::spawn_blocking(move || -> Result<bool, TokenProblem> {
        let (account_id, purpose) = worker
            .accounts
            .use_token(&token, now())
            .map_err(|_| TokenProblem::Unknown)??;
        let Purpose::EmailChange { new_email } = purpose else {
            return Err(TokenProblem::Unknown);
        };
        let mut account = worker
            .accounts
            .get(&account_id)
            .ok()
            .flatten()
            .ok_or(TokenProblem::Unknown)?;
        let changed = worker
            .accounts
            .change_email(&mut account, &new_email)
            .map_err(|_| TokenProblem::Unknown)?;
        if changed {
            // Mails about the dossier go to the new address from now on.
            update_dossier_email(&worker, &account);
        }
        Ok(changed)
    })
    .await
    .unwrap_or(Err(TokenProblem::Unknown));
    match outcome {
        Ok(true) => message(
            &state,
            lang,
            StatusCode::OK,
            "email_changed",
            "email_changed",
            Some(("dashboard", format!("/tableau-de-bord?lang={lang}"))),
        ),
        Ok(false) => message(
            &state,
            lang,
            StatusCode::CONFLICT,
            "email_taken",
            "email_taken",
            None,
        ),
        Err(problem) => token_problem(&state, lang, problem, "/compte/email"),
    }
}

/// Records the account's address in its dossier, retrying once on a concurrent change.
fn update_dossier_email(state: &AppState, account: &Account) {
    let Some(dossier) = &account.dossier else {
        return;
    };
    let actor = guichet_engine::Actor::new(state.engine.definition().candidate_role(), &account.id);
    for _ in 0..2 {
        let Ok(Some(current)) = state.engine.dossier(dossier) else {
            return;
        };
        let mut candidate = current.candidate.clone();
        candidate.email = account.email.clone();
        let command = guichet_engine::Command::UpdateCandidate { candidate };
        match state
            .engine
            .apply(dossier, current.version, &actor, command, now())
        {
            Ok(_) => return,
            Err(error) if error.is_conflict() => continue,
            Err(error) => {
                tracing::error!(%error, "the dossier's email was not updated");
                return;
            }
        }
    }
}

/// `GET /tableau-de-bord`: who the candidate is, and where the dossier stands.
pub async fn dashboard(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    let Some(account) = signed_in(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let dossier = account
        .dossier
        .as_deref()
        .and_then(|id| state.engine.dossier(id).ok().flatten());
    // The dossier's own definition version decides its sections.
    let definition = dossier.as_ref().map_or_else(
        || state.engine.current_definition(),
        |d| state.definition_of(d),
    );
    let definition = definition.as_ref();
    let complete: HashMap<String, bool> = dossier
        .as_ref()
        .and_then(|d| profile_state(definition, d, now()).ok())
        .map(|states| {
            states
                .into_iter()
                .map(|s| (s.section, s.complete))
                .collect()
        })
        .unwrap_or_default();
    let sections: Vec<Value> = definition
        .file()
        .profile
        .iter()
        .map(|s| json!({"id": s.id, "title": s.title.get(lang), "complete": complete.get(&s.id).copied().unwrap_or(false)}))
        .collect();
    let candidatures: Vec<Value> = dossier
        .iter()
        .flat_map(|d| &d.candidatures)
        .map(|c| {
            let formation = definition
                .formation(&c.formation)
                .map_or(c.formation.clone(), |f| f.title.get(lang).to_owned());
            let state_label = definition
                .state(&c.state)
                .map_or(c.state.clone(), |s| s.label.get(lang).to_owned());
            let next = dossier
                .as_ref()
                .map(|d| super::history::next_step(definition, d, c, lang))
                .unwrap_or_default();
            json!({"id": c.id, "formation": formation, "state": state_label, "next": next})
        })
        .collect();
    let history: Vec<Value> = dossier
        .as_ref()
        .and_then(|d| state.engine.history(&d.id).ok())
        .map(|events| super::history::describe(definition, &events, lang))
        .unwrap_or_default();
    let mut response = render_with_csrf(
        &state,
        &headers,
        lang,
        "dashboard.html",
        StatusCode::OK,
        |map| {
            map.insert("account".into(), json!({"first_name": account.first_name, "last_name": account.last_name, "email": account.email}));
            map.insert("sections".into(), json!(sections));
            map.insert("candidatures".into(), json!(candidatures));
            map.insert("history".into(), json!(history));
        },
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            id: "a".into(),
            email: "zoe.lefevre@example.org".into(),
            first_name: "Zoé".into(),
            last_name: "Lefèvre".into(),
            password: None,
            dossier: None,
            created_at: "2027-03-10T09:00:00Z".parse().expect("time"),
        }
    }

    #[test]
    fn passwords_must_be_long_varied_and_impersonal() {
        assert_eq!(
            password_problem("Court1!", &account()),
            Some("password_short")
        );
        assert_eq!(
            password_problem("toutminuscule", &account()),
            Some("password_weak")
        );
        assert_eq!(
            password_problem("Lefèvre-2027!", &account()),
            Some("password_personal")
        );
        assert_eq!(
            password_problem("zoe.lefevre42A", &account()),
            Some("password_personal")
        );
        assert_eq!(password_problem("Calanques-de-Sormiou-7", &account()), None);
        assert_eq!(
            password_problem("une phrase assez longue", &account()),
            None
        );
    }

    #[test]
    fn email_addresses_are_checked_loosely() {
        assert!(valid_email("zoe@example.org"));
        assert!(!valid_email("zoe@example"));
        assert!(!valid_email("zoe example@example.org"));
        assert!(!valid_email("@example.org"));
    }
}
