//! The mails about an account, and the single-use links they carry.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;

use super::site::Lang;
use super::state::AppState;
use crate::account_store::{Account, AccountError, Purpose};

/// A single-use link sent by mail.
pub enum MailedLink {
    /// Activates a new account (and chooses its password).
    Activation,
    /// Chooses a new password.
    PasswordReset,
    /// Confirms a new email address.
    EmailChange(String),
    /// Undoes a change of address (mailed to the former one).
    EmailRevert(String),
}

impl MailedLink {
    /// What the link lets its holder do.
    pub fn purpose(&self) -> Purpose {
        match self {
            MailedLink::Activation => Purpose::Activation,
            MailedLink::PasswordReset => Purpose::PasswordReset,
            MailedLink::EmailChange(new_email) => Purpose::EmailChange {
                new_email: new_email.clone(),
            },
            MailedLink::EmailRevert(old_email) => Purpose::EmailRevert {
                old_email: old_email.clone(),
            },
        }
    }

    /// The path the link opens, before its token.
    pub fn path(&self) -> &'static str {
        match self {
            MailedLink::Activation => "activation",
            MailedLink::PasswordReset => "mot-de-passe",
            MailedLink::EmailChange(_) => "compte/email",
            MailedLink::EmailRevert(_) => "compte/email/annuler",
        }
    }

    /// The account mail of the definition that carries it.
    fn mail(&self) -> &'static str {
        match self {
            MailedLink::Activation => "activation",
            MailedLink::PasswordReset => "password_reset",
            MailedLink::EmailChange(_) => "email_change",
            MailedLink::EmailRevert(_) => "email_changed",
        }
    }

    fn validity(&self, state: &AppState) -> Duration {
        match self {
            MailedLink::PasswordReset => state.links.password_reset,
            _ => state.links.activation,
        }
    }

    /// Issues the link for `account` and mails it to `to`.
    pub fn send(
        &self,
        state: &AppState,
        account: &Account,
        to: &str,
        lang: Lang,
    ) -> Result<(), AccountError> {
        let (token, expires_at) = state.accounts.issue_token(
            self.purpose(),
            &account.id,
            self.validity(state),
            Timestamp::now(),
        )?;
        let link = format!(
            "{}/{}/{token}",
            state.base_url.trim_end_matches('/'),
            self.path()
        );
        let mail = AccountMail {
            kind: self.mail(),
            account,
            to,
            link: &link,
            expires_at,
        };
        send_account_mail(state, &mail, lang);
        Ok(())
    }
}

/// An account mail of the definition.
pub struct AccountMail<'a> {
    /// Which one: `activation`, `activated`, `password_reset`, `email_change`.
    pub kind: &'static str,
    /// The account it is about.
    pub account: &'a Account,
    /// Where it goes.
    pub to: &'a str,
    /// The link it carries.
    pub link: &'a str,
    /// When the link stops working.
    pub expires_at: Timestamp,
}

/// Queues an account mail, if the definition has one of its kind.
pub fn send_account_mail(state: &AppState, mail: &AccountMail<'_>, lang: Lang) {
    let definition = state.engine.definition();
    let mails = &definition.file().accounts.mails;
    let template = match mail.kind {
        "activation" => &mails.activation,
        "activated" => &mails.activated,
        "password_reset" => &mails.password_reset,
        "email_changed" => &mails.email_changed,
        _ => &mails.email_change,
    };
    let Some(template) = template else {
        tracing::warn!(
            kind = mail.kind,
            "the definition declares no mail for this account event"
        );
        return;
    };
    let expires = mail
        .expires_at
        .to_zoned(state.engine.definition().timezone().clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string();
    let account = mail.account;
    let context = json!({
        "account": {"first_name": account.first_name, "last_name": account.last_name, "email": mail.to, "identifier": account.email},
        "link": mail.link,
        "expires_at": expires,
    });
    match state.engine.queue_account_mail(
        template,
        mail.to,
        lang.code(),
        &context,
        Timestamp::now(),
    ) {
        Ok(_) => {
            if state.log_links {
                // Without SMTP, the person running the server needs the link.
                tracing::info!(
                    kind = mail.kind,
                    to = mail.to,
                    link = mail.link,
                    "account link"
                );
            }
            state.mail_wake.notify_one();
        }
        Err(error) => {
            tracing::error!(error = %super::error::chain(&error), kind = mail.kind, "account mail not queued")
        }
    }
}
