//! The account forms (one template, `form.html`, for all of them), the
//! confirmation step before an action, and the checks of what they receive.

use std::collections::HashMap;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::error::Link;
use super::extract::{CsrfForm, Visit};
use super::session::{cookie, set_cookie, SESSION_COOKIE};
use super::site::Lang;
use crate::account_store::{Account, SESSION_MAX};

/// One input of an account form: name, label key, input type, autocomplete.
pub struct Input {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    help: Option<&'static str>,
}

impl Input {
    /// An input without help.
    pub const fn new(
        name: &'static str,
        label: &'static str,
        kind: &'static str,
        autocomplete: &'static str,
    ) -> Self {
        Input {
            name,
            label,
            kind,
            autocomplete,
            help: None,
        }
    }

    /// The same input, with a help text (a words key).
    pub const fn with_help(mut self, help: &'static str) -> Self {
        self.help = Some(help);
        self
    }
}

/// An account form: its words (keys), where it posts, its inputs and links.
pub struct AccountForm {
    /// Heading (words key).
    pub heading: &'static str,
    /// Text under the heading (words key).
    pub intro: Option<&'static str>,
    /// Path the form posts to.
    pub action: String,
    /// Button (words key).
    pub submit: &'static str,
    /// The inputs.
    pub inputs: Vec<Input>,
    /// Links under the form: words key and path.
    pub links: Vec<(&'static str, &'static str)>,
}

/// Messages next to inputs, by input name.
pub type Errors = HashMap<&'static str, String>;

#[derive(Serialize)]
struct FieldView<'a> {
    name: &'a str,
    label: String,
    #[serde(rename = "type")]
    kind: &'a str,
    autocomplete: &'a str,
    help: Option<String>,
    value: &'a str,
    error: Option<&'a String>,
}

#[derive(Serialize)]
struct FormView<'a> {
    heading: String,
    intro: Option<String>,
    action: String,
    submit: String,
    fields: Vec<FieldView<'a>>,
    errors: bool,
    form_error: Option<String>,
    links: Vec<Link>,
}

impl AccountForm {
    /// A form titled `heading` (a words key), posting to `action`, with
    /// button `submit` (a words key).
    pub fn new(heading: &'static str, submit: &'static str, action: impl Into<String>) -> Self {
        AccountForm {
            heading,
            intro: None,
            action: action.into(),
            submit,
            inputs: Vec::new(),
            links: Vec::new(),
        }
    }

    /// With a text under the heading (a words key).
    pub fn intro(mut self, intro: &'static str) -> Self {
        self.intro = Some(intro);
        self
    }

    /// With one more input.
    pub fn input(mut self, input: Input) -> Self {
        self.inputs.push(input);
        self
    }

    /// With the two inputs of a sign-in: the address and the password.
    pub fn credentials(self) -> Self {
        self.input(Input::new("email", "identifier", "email", "username"))
            .input(Input::new(
                "password",
                "password",
                "password",
                "current-password",
            ))
    }

    /// With a link under the form: words key and path.
    pub fn link(mut self, label: &'static str, path: &'static str) -> Self {
        self.links.push((label, path));
        self
    }

    /// The form as it first shows: empty, without messages.
    pub fn blank(&self, visit: &Visit) -> Response {
        self.render(visit, &[], &Errors::new(), None)
    }

    /// The form with `values` (those sent, or known already; passwords are
    /// never shown) and what is wrong with them: next to inputs (`errors`) or about the whole (`form_error`).
    pub fn render(
        &self,
        visit: &Visit,
        values: &[(String, String)],
        errors: &Errors,
        form_error: Option<String>,
    ) -> Response {
        let lang = visit.lang;
        let fields = self
            .inputs
            .iter()
            .map(|input| FieldView {
                name: input.name,
                label: lang.t(input.label),
                kind: input.kind,
                autocomplete: input.autocomplete,
                help: input.help.map(|h| lang.t(h)),
                // Passwords are never sent back into the page.
                value: match values.iter().find(|(name, _)| name == input.name) {
                    Some((_, value)) if input.kind != "password" => value,
                    _ => "",
                },
                error: errors.get(input.name),
            })
            .collect();
        let refused = !errors.is_empty() || form_error.is_some();
        let page = FormView {
            heading: lang.t(self.heading),
            intro: self.intro.map(|i| lang.t(i)),
            action: lang.href(&self.action),
            submit: lang.t(self.submit),
            fields,
            errors: refused,
            form_error,
            links: self
                .links
                .iter()
                .map(|(label, path)| Link {
                    label: lang.t(label),
                    href: lang.href(path),
                })
                .collect(),
        };
        let status = if refused {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        visit.render_form("form.html", status, &page)
    }
}

/// A confirmation step: what is about to happen, and the button that does it.
#[derive(Serialize)]
pub struct Confirmation {
    /// Heading.
    pub heading: String,
    /// What will happen.
    pub text: String,
    /// Where the button posts.
    pub action: String,
    /// The button's words.
    pub button: String,
    /// Where "cancel" goes.
    pub back: String,
}

impl Confirmation {
    /// The confirmation page.
    pub fn render(&self, visit: &Visit) -> Response {
        visit.render_form("confirm.html", StatusCode::OK, self)
    }
}

/// Ends any previous session of this browser and hands it the new one.
pub fn signed_in_redirect(visit: &Visit, session: &str) -> Response {
    let state = &visit.state;
    if let Some(previous) = cookie(&visit.headers, SESSION_COOKIE) {
        let _ = state.accounts.close_session(&previous);
    }
    let mut response = Redirect::to(&visit.href("/tableau-de-bord")).into_response();
    let max_age = Some(SESSION_MAX.as_secs());
    let secure = state.secure_cookies;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(secure, SESSION_COOKIE, session, "Lax", max_age),
    );
    response
}

/// Whether `text` is one email address that mail can be sent to: lettre's
/// parser agrees, with a dotted domain, and nothing that would make it several
/// addresses or a display name.
pub fn valid_email(text: &str) -> bool {
    let Ok(address) = text.parse::<lettre::Address>() else {
        return false;
    };
    let domain = address.domain();
    domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.contains(|c: char| c.is_whitespace() || "<>,;\"()[]\\".contains(c))
        && text.len() <= 254
}

/// Longest name accepted, in characters.
const MAX_NAME: usize = 100;

/// Whether `name` is a person's name as a form may give it: not too long,
/// no control character (a line break would write into mails).
pub fn valid_name(name: &str) -> bool {
    name.chars().count() <= MAX_NAME && !name.chars().any(char::is_control)
}

/// The first problem of a new password, as a words key.
pub fn password_problem(password: &str, account: &Account) -> Option<&'static str> {
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

/// "Required" next to each of `names` left empty.
pub fn required(form: &CsrfForm, names: &[&'static str], lang: Lang) -> Errors {
    names
        .iter()
        .filter(|name| form.trimmed(name).is_empty())
        .map(|name| (*name, lang.t("required")))
        .collect()
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
            dossiers: Default::default(),
            created_at: "2027-03-10T09:00:00Z".parse().expect("time"),
        }
    }

    #[test]
    fn passwords_must_be_long_varied_and_impersonal() {
        let cases = [
            ("Court1!", Some("password_short")),
            ("toutminuscule", Some("password_weak")),
            ("Lefèvre-2027!", Some("password_personal")),
            ("zoe.lefevre42A", Some("password_personal")),
            ("Calanques-de-Sormiou-7", None),
            ("une phrase assez longue", None),
        ];
        for (password, problem) in cases {
            assert_eq!(
                password_problem(password, &account()),
                problem,
                "{password}"
            );
        }
    }

    #[test]
    fn email_addresses_are_checked_loosely() {
        assert!(valid_email("zoe@example.org"));
        assert!(!valid_email("zoe@example"));
        assert!(!valid_email("zoe example@example.org"));
        assert!(!valid_email("@example.org"));
        assert!(!valid_email("a,b@example.org"), "two addresses");
        assert!(!valid_email("<victim@example.org>"), "a display form");
        assert!(!valid_email("Zoé <zoe@example.org>"));
        assert!(valid_email("zoe.lefevre+candidature@example.org"));
    }

    #[test]
    fn names_are_short_and_on_one_line() {
        assert!(valid_name("Lefèvre-Nguyễn d'Aubigné"));
        assert!(!valid_name(
            "Zoé\n\nVotre compte est bloqué : appelez le 08…"
        ));
        assert!(!valid_name(&"x".repeat(1_500_000)));
    }
}
