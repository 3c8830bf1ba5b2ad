//! Pieces third parties send: the candidate asks the people they named, each
//! gets a single-use link by mail, and sends their piece through it.

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::commands::fitting;
use super::{not_found, Step, WorkflowError};
use crate::definition::Definition;
use crate::dossier::{FileRef, Request};
use crate::model::{RoleDef, RoleKind, DEFAULT_LINK_VALID_DAYS};
use crate::queries::letters;

/// Why a third party's request or piece was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThirdPartyRefusal {
    /// The candidate names nobody to ask (or everyone was asked already).
    #[error("nobody named is left to ask")]
    NobodyToAsk,
    /// The candidature was sent (or is no longer in its first status):
    /// nothing more can be asked or received.
    #[error("the candidature is no longer open to third parties")]
    Closed,
    /// The link matches no request (mistyped, or replaced by a newer one).
    #[error("this link is not valid")]
    UnknownLink,
    /// The link's time is over.
    #[error("this link has expired")]
    Expired,
    /// The piece was already sent through this link.
    #[error("this link was already used")]
    Used,
    /// The candidature has asked as many times as it may.
    #[error("no more requests can be sent for this candidature")]
    TooMany,
}

/// Most links one candidature may have mailed, all people and reminders
/// together: a candidate cannot use the server to mail any address at will.
pub const MAX_REQUESTS: usize = 20;

/// SHA-256 (hex) of a link's secret, as requests keep it.
pub fn secret_sha256(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The third-party role `role_id` (the checker ensures it names its piece).
fn third_party<'d>(
    definition: &'d Definition,
    role_id: &str,
) -> Result<&'d RoleDef, WorkflowError> {
    definition
        .role(role_id)
        .filter(|r| r.kind == RoleKind::ThirdParty && r.provides.is_some())
        .ok_or_else(|| not_found("third-party role", role_id))
}

impl Step<'_> {
    /// Third parties act while the candidature is in its first status: once
    /// it is sent, what it holds is what staff judge.
    fn open_to_third_parties(&self, index: usize) -> Result<(), WorkflowError> {
        let candidature = &self.after.candidatures[index];
        if self.definition.initial_state() == candidature.state {
            Ok(())
        } else {
            Err(WorkflowError::ThirdParty(ThirdPartyRefusal::Closed))
        }
    }

    pub(super) fn ask(
        &mut self,
        actor_role: &str,
        kind: RoleKind,
        candidature_id: &str,
        role_id: &str,
    ) -> Result<(), WorkflowError> {
        if kind != RoleKind::Candidate {
            return Err(WorkflowError::Forbidden {
                role: actor_role.to_owned(),
                action: "ask third parties".into(),
            });
        }
        let definition = self.definition;
        let role = third_party(definition, role_id)?;
        let index = self.candidature_index(candidature_id)?;
        self.open_to_third_parties(index)?;
        let candidature = &self.after.candidatures[index];
        let to_ask: Vec<(usize, String, String)> = letters(definition, &self.after, candidature)
            .into_iter()
            .filter(|letter| letter.role == role.id && letter.to_ask(self.now))
            .map(|letter| (letter.entry, letter.name, letter.email))
            .collect();
        if to_ask.is_empty() {
            return Err(WorkflowError::ThirdParty(ThirdPartyRefusal::NobodyToAsk));
        }
        let mailed = self.after.candidatures[index].mailed_requests;
        if mailed + to_ask.len() > MAX_REQUESTS {
            return Err(WorkflowError::ThirdParty(ThirdPartyRefusal::TooMany));
        }
        self.after.candidatures[index].mailed_requests = mailed + to_ask.len();
        let days = role.link_valid_days.unwrap_or(DEFAULT_LINK_VALID_DAYS);
        let expires_at = self.now + SignedDuration::from_hours(24 * i64::from(days));
        let context = self.context_of(index)?;
        for (entry, name, email) in to_ask {
            // 244 random bits: the link is the third party's only credential.
            let secret = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            let token = format!("{}.{secret}", self.after.id);
            let request = Request {
                role: role.id.clone(),
                entry,
                name: name.clone(),
                email: email.clone(),
                secret_sha256: secret_sha256(&token),
                asked_at: self.now,
                expires_at,
                letter: None,
                received_at: None,
            };
            let requests = &mut self.after.candidatures[index].requests;
            // The person's earlier link, if any, stops working.
            requests.retain(|r| !(r.role == role.id && r.entry == entry));
            requests.push(request);
            self.change(
                format!("candidatures/{candidature_id}/requests/{}/{entry}", role.id),
                Value::Null,
                json!({"name": name, "email": email, "asked_at": self.now, "expires_at": expires_at}),
            );
            if let Some(mail) = role.mail.as_deref().and_then(|id| definition.mail(id)) {
                let mut context = context.clone();
                if let Value::Object(map) = &mut context {
                    map.insert(
                        "third_party".into(),
                        json!({
                            "name": name,
                            "email": email,
                            "link": format!("{}{token}", self.link_prefix),
                            "expires": definition.day_of(expires_at),
                        }),
                    );
                }
                let context = super::mails::mail_context(definition, context);
                self.queue_mail(index, mail, &context, vec![email])?;
            }
            self.asked.push((entry, token));
        }
        Ok(())
    }

    pub(super) fn deliver(
        &mut self,
        actor_role: &str,
        candidature_id: &str,
        entry: usize,
        secret: &str,
        file: &FileRef,
    ) -> Result<(), WorkflowError> {
        let definition = self.definition;
        let role = third_party(definition, actor_role)?;
        let index = self.candidature_index(candidature_id)?;
        let candidature = &self.after.candidatures[index];
        let current = letters(definition, &self.after, candidature)
            .into_iter()
            .find(|l| l.role == role.id && l.entry == entry)
            .and_then(|l| l.request)
            .filter(|r| r.secret_sha256 == secret)
            .ok_or(WorkflowError::ThirdParty(ThirdPartyRefusal::UnknownLink))?;
        if current.letter.is_some() {
            return Err(WorkflowError::ThirdParty(ThirdPartyRefusal::Used));
        }
        if current.expires_at <= self.now {
            return Err(WorkflowError::ThirdParty(ThirdPartyRefusal::Expired));
        }
        self.open_to_third_parties(index)?;
        let piece_id = role.provides.as_deref().unwrap_or_default();
        let piece = definition
            .piece(piece_id)
            .ok_or_else(|| not_found("piece", piece_id))?;
        let file = fitting(definition, piece, file)?.clone();
        let now: Timestamp = self.now;
        let request = self.after.candidatures[index]
            .requests
            .iter_mut()
            .find(|r| r.role == role.id && r.entry == entry && r.secret_sha256 == secret)
            .ok_or(WorkflowError::ThirdParty(ThirdPartyRefusal::UnknownLink))?;
        request.letter = Some(file.clone());
        request.received_at = Some(now);
        self.change(
            format!(
                "candidatures/{candidature_id}/requests/{}/{entry}/letter",
                role.id
            ),
            Value::Null,
            json!({"name": file.name, "size": file.size, "format": file.format}),
        );
        Ok(())
    }
}
