//! Mails a command queues, rendered now in the candidate's language.

use serde_json::{json, Value};

use super::deadlines::deadline_time;
use super::{Step, WorkflowError};
use crate::context::{Needs, TemplateContext};
use crate::dossier::{IssuedLetter, OutboxMail};
use crate::model::{answer_recipient, DeadlineDef, FormationDef, MailDef, MailEffect, RoleKind};

impl Step<'_> {
    pub(super) fn queue_mails(
        &mut self,
        index: usize,
        effects: &[MailEffect],
        transition: &Value,
        deadline: Option<&DeadlineDef>,
    ) -> Result<(), WorkflowError> {
        if effects.is_empty() {
            return Ok(());
        }
        let definition = self.definition;
        // Only what the mails' conditions and templates read is made.
        let conditions: Vec<&str> = effects.iter().filter_map(|e| e.when.as_deref()).collect();
        let mails: Vec<&MailDef> = effects
            .iter()
            .filter_map(|e| definition.mail(&e.mail))
            .collect();
        let needs = Needs::of_mails(definition, &conditions, &mails);
        let mut context = self.context_for(index, &needs)?;
        let language = self.after.language.clone();
        let deadline_view = match deadline {
            Some(d) => {
                // The day the deadline itself falls on, not when a reminder fires.
                let due = deadline_time(definition, d, &self.after.candidatures[index])
                    .map(|end| definition.day_of(end - jiff::SignedDuration::from_secs(1)));
                json!({"id": d.id, "label": d.label.get(&language), "due": due})
            }
            None => json!({"id": "", "label": "", "due": ""}),
        };
        if let Value::Object(map) = &mut context {
            map.insert("transition".into(), transition.clone());
            map.insert("deadline".into(), deadline_view);
            let input = self.after.candidatures[index].data.clone();
            map.insert("input".into(), Value::Object(input));
        }
        let formation = definition.formation(&self.after.candidatures[index].formation);
        let mut mails = Vec::new();
        for effect in effects {
            if let Some(when) = &effect.when {
                if !definition.eval_bool(when, &context)? {
                    continue;
                }
            }
            mails.extend(definition.mail(&effect.mail));
        }
        if mails.is_empty() {
            return Ok(());
        }
        let context = mail_context(definition, context);
        for mail in mails {
            let to = self.recipients(mail, formation);
            self.queue_mail(index, mail, &context, to)?;
        }
        Ok(())
    }

    /// The addresses `mail` goes to for this dossier.
    fn recipients(&self, mail: &MailDef, formation: Option<&FormationDef>) -> Vec<String> {
        let definition = self.definition;
        let recipients = mail
            .to
            .as_ref()
            .map_or_else(|| vec!["candidate"], |to| to.ids());
        let mut to = Vec::new();
        for recipient in recipients {
            if let Some((section, field)) = answer_recipient(recipient) {
                // Every entry's address, for a repeatable section (referees).
                for address in answers_at(&self.after.profile, section, field) {
                    if !to.contains(&address) {
                        to.push(address);
                    }
                }
                continue;
            }
            let address = if recipient.contains('@') {
                Some(recipient.to_owned())
            } else if recipient == "candidate" {
                Some(self.after.candidate.email.clone())
            } else if recipient == "formation" {
                formation.and_then(|f| f.contact.clone())
            } else {
                match definition.role(recipient) {
                    Some(role) if role.kind == RoleKind::Candidate => {
                        Some(self.after.candidate.email.clone())
                    }
                    Some(role) => role.address.clone(),
                    None => None,
                }
            };
            if let Some(address) = address {
                if !to.contains(&address) {
                    to.push(address);
                }
            }
        }
        to
    }

    /// Renders `mail` over `context` (from [`mail_context`]) in the dossier's language and
    /// queues it to `to` (nothing when `to` is empty), with the letters it
    /// issues to candidature `index`.
    pub(super) fn queue_mail(
        &mut self,
        index: usize,
        mail: &MailDef,
        context: &TemplateContext,
        to: Vec<String>,
    ) -> Result<(), WorkflowError> {
        let definition = self.definition;
        let language = self.after.language.clone();
        let render = |part: &str, language: &str| {
            definition
                .render_mail_part(&mail.id, part, language, context)
                .map_err(|source| WorkflowError::Template {
                    mail: mail.id.clone(),
                    source,
                })
        };
        // Every language is rendered, the reader's kept: a template that
        // fails in one language fails for every reader (and in the
        // definition's scenarios), not only for those who read it.
        let mut languages: Vec<&str> = [&mail.subject, &mail.text]
            .into_iter()
            .chain(&mail.html)
            .flat_map(|text| text.variants().into_iter().map(|(code, _)| code))
            .filter(|code| *code != language)
            .collect();
        languages.sort_unstable();
        languages.dedup();
        for other in languages {
            for part in ["subject", "text", "html"] {
                render(part, other)?;
            }
        }
        let subject = render("subject", &language)?.unwrap_or_default();
        let text = render("text", &language)?.unwrap_or_default();
        let html = render("html", &language)?;
        let letters = self.issue_letters(index, mail, context)?;
        if to.is_empty() {
            return Ok(());
        }
        let id = format!(
            "{}-{:08}-{:02}",
            self.after.id,
            self.before.version + 1,
            self.mails.len()
        );
        self.mails.push(OutboxMail {
            id,
            dossier: Some(self.after.id.clone()),
            mail: mail.id.clone(),
            to,
            subject: subject.trim().to_owned(),
            text,
            html,
            letters,
            queued_at: self.now,
        });
        Ok(())
    }

    /// Renders the letters `mail` issues, in the dossier's language, and
    /// keeps each in candidature `index` in place of an earlier issue.
    fn issue_letters(
        &mut self,
        index: usize,
        mail: &MailDef,
        context: &TemplateContext,
    ) -> Result<Vec<IssuedLetter>, WorkflowError> {
        let definition = self.definition;
        let language = self.after.language.clone();
        let mut issued = Vec::new();
        for letter in mail.letters.iter().filter_map(|id| definition.letter(id)) {
            let render = |part: &str, language: &str| {
                definition
                    .render_letter_part(letter, part, language, context)
                    .map_err(|source| WorkflowError::Template {
                        mail: format!("{} (letter `{}`)", mail.id, letter.id),
                        source,
                    })
            };
            for (other, _) in letter
                .title
                .variants()
                .into_iter()
                .chain(letter.text.variants())
            {
                for part in ["title", "text"] {
                    render(part, other)?;
                }
            }
            let candidate = &self.after.candidate;
            let signature = definition.file().signature.as_ref();
            let mut signed_by: Vec<String> = signature
                .map(|s| s.name.get(&language).to_owned())
                .into_iter()
                .collect();
            if let Some(function) = signature.and_then(|s| s.function.as_ref()) {
                signed_by.extend(function.get(&language).lines().map(str::to_owned));
            }
            let candidature = &mut self.after.candidatures[index];
            let candidature_id = candidature.id.clone();
            let issued_letter = IssuedLetter {
                letter: letter.id.clone(),
                candidature: candidature_id.clone(),
                mail: mail.id.clone(),
                language: language.clone(),
                institution: signature
                    .and_then(|s| s.institution.as_ref())
                    .unwrap_or(&definition.file().title)
                    .get(&language)
                    .trim()
                    .to_owned(),
                recipient: vec![
                    format!("{} {}", candidate.first_name, candidate.last_name),
                    candidate.email.clone(),
                ],
                title: render("title", &language)?.trim().to_owned(),
                text: render("text", &language)?,
                place: signature
                    .and_then(|s| s.place.as_ref())
                    .map(|p| p.get(&language).to_owned()),
                day: definition.day_of(self.now),
                signature: signed_by,
                issued_at: self.now,
            };
            let earlier = candidature
                .letters
                .iter()
                .position(|l| l.letter == letter.id)
                .map(|at| candidature.letters.remove(at));
            candidature.letters.push(issued_letter.clone());
            self.change(
                format!("candidatures/{candidature_id}/letters/{}", letter.id),
                earlier.map_or(Value::Null, |l| json!(l.issued_at)),
                json!(self.now),
            );
            issued.push(issued_letter);
        }
        Ok(issued)
    }
}

/// What a candidature's mails render over: `context` with every name a
/// mail may use, empty where this command has none (a transition's mail
/// has no third party).
pub(super) fn mail_context(definition: &crate::Definition, context: Value) -> TemplateContext {
    let shape = std::sync::Arc::clone(definition.candidature_mail_shape());
    TemplateContext::with_shape(context, shape)
}

/// The addresses answered to `field` of `section`: one, or one per entry of
/// a repeatable section.
fn answers_at(
    profile: &std::collections::BTreeMap<String, Value>,
    section: &str,
    field: &str,
) -> Vec<String> {
    let entries = match profile.get(section) {
        Some(Value::Array(entries)) => entries.iter().collect(),
        Some(entry) => vec![entry],
        None => Vec::new(),
    };
    entries
        .into_iter()
        .filter_map(|entry| entry.get(field)?.as_str())
        .map(|address| address.trim().to_owned())
        .filter(|address| !address.is_empty())
        .collect()
}
