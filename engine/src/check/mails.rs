//! Mail templates (compiled, their names checked against what they may read),
//! account mails, and the definition's own test scenarios.

use super::{Checker, TEMPLATE_GLOBALS};
use crate::compiled::{letter_template, template_name};
use crate::context::shape::{self, Shape};
use crate::model::{answer_recipient, FieldType, MailSubject, OneOrMany, RoleKind};
use crate::suggest::did_you_mean;
use crate::yaml::escape_segment;

impl Checker<'_> {
    pub(super) fn mails(&mut self) {
        let def = self.def;
        self.unique("/mails", "mail", def.mails.iter().map(|m| m.id.as_str()));
        let candidature_shape = shape::candidature_mail_shape(def);
        let account_shape = shape::account_mail_shape();
        let roles: Vec<&str> = def.roles.iter().map(|r| r.id.as_str()).collect();
        for (index, mail) in def.mails.iter().enumerate() {
            let at = format!("/mails/{index}");
            self.slug(&format!("{at}/id"), &mail.id);
            let shape = match mail.about {
                MailSubject::Candidature => &candidature_shape,
                MailSubject::Account => &account_shape,
            };
            let mut parts = vec![("subject", &mail.subject), ("text", &mail.text)];
            if let Some(html) = &mail.html {
                parts.push(("html", html));
            }
            for (part, text) in parts {
                self.text(&format!("{at}/{part}"), text);
                for (language, source) in text.variants() {
                    let pointer = match language {
                        "" => format!("{at}/{part}"),
                        code => format!("{at}/{part}/{code}"),
                    };
                    self.template(&pointer, &mail.id, part, language, source, shape);
                }
            }
            let letters: Vec<&str> = def.letters.iter().map(|l| l.id.as_str()).collect();
            for (i, letter) in mail.letters.iter().enumerate() {
                let pointer = format!("{at}/letters/{i}");
                if !letters.contains(&letter.as_str()) {
                    self.unknown(&pointer, "letter", letter, &letters);
                } else if mail.about == MailSubject::Account {
                    self.error(
                        &pointer,
                        format!("mail `{}` is about an account: it has no candidature to issue a letter to", mail.id),
                        "attach letters to a mail about a candidature (a decision's)",
                    );
                }
            }
            if let Some(to) = &mail.to {
                for (i, recipient) in to.ids().into_iter().enumerate() {
                    let pointer = match to {
                        OneOrMany::One(_) => format!("{at}/to"),
                        OneOrMany::Many(_) => format!("{at}/to/{i}"),
                    };
                    if let Some((section, field)) = answer_recipient(recipient) {
                        self.answer_recipient(&pointer, section, field);
                        continue;
                    }
                    if recipient.contains('@')
                        || recipient == "formation"
                        || recipient == "candidate"
                    {
                        continue;
                    }
                    match def.roles.iter().find(|r| r.id == recipient) {
                        None => self.unknown(&pointer, "role", recipient, &roles),
                        Some(role) if role.kind == RoleKind::Staff && role.address.is_none() => {
                            self.error(
                                &pointer,
                                format!("role `{recipient}` has no address to send to"),
                                format!("give role `{recipient}` an `address:`"),
                            )
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }

    /// Letter templates (compiled against what a candidature's mail reads),
    /// the signature, and no letter in a mail sent to a third party.
    pub(super) fn letters(&mut self) {
        let def = self.def;
        self.unique(
            "/letters",
            "letter",
            def.letters.iter().map(|l| l.id.as_str()),
        );
        let shape = shape::candidature_mail_shape(def);
        for (index, letter) in def.letters.iter().enumerate() {
            let at = format!("/letters/{index}");
            self.slug(&format!("{at}/id"), &letter.id);
            let owner = letter_template(&letter.id);
            for (part, text) in [("title", &letter.title), ("text", &letter.text)] {
                self.text(&format!("{at}/{part}"), text);
                for (language, source) in text.variants() {
                    let pointer = match language {
                        "" => format!("{at}/{part}"),
                        code => format!("{at}/{part}/{code}"),
                    };
                    self.template(&pointer, &owner, part, language, source, &shape);
                }
            }
        }
        if let Some(signature) = &def.signature {
            self.text("/signature/name", &signature.name);
            if let Some(place) = &signature.place {
                self.text("/signature/place", place);
            }
            if let Some(institution) = &signature.institution {
                self.text("/signature/institution", institution);
            }
            if let Some(function) = &signature.function {
                self.text("/signature/function", function);
            }
        }
        for (index, role) in def.roles.iter().enumerate() {
            let Some(mail) = role
                .mail
                .as_deref()
                .and_then(|id| def.mails.iter().find(|m| m.id == id))
            else {
                continue;
            };
            if role.kind == RoleKind::ThirdParty && !mail.letters.is_empty() {
                self.error(
                    &format!("/roles/{index}/mail"),
                    format!("mail `{}` attaches letters, and goes to a third party", mail.id),
                    "a letter to the candidate goes in a mail to the candidate: give this role a mail without `letters:`",
                );
            }
        }
    }

    /// Checks a recipient `profile.<section>.<field>` names an email field.
    fn answer_recipient(&mut self, pointer: &str, section: &str, field: &str) {
        let sections = &self.def.profile;
        let Some(found) = sections.iter().find(|s| s.id == section) else {
            let known: Vec<&str> = sections.iter().map(|s| s.id.as_str()).collect();
            return self.unknown(pointer, "section", section, &known);
        };
        match found.fields.iter().find(|f| f.id == field) {
            None => {
                let known: Vec<&str> = found.fields.iter().map(|f| f.id.as_str()).collect();
                self.unknown(pointer, "field", field, &known);
            }
            Some(f) if f.kind != FieldType::Email => self.error(
                pointer,
                format!("field `{section}.{field}` is not an email address"),
                "a mail goes to an answer of `type: email`",
            ),
            Some(_) => {}
        }
    }

    pub(super) fn template(
        &mut self,
        pointer: &str,
        mail: &str,
        part: &str,
        language: &str,
        source: &str,
        shape: &Shape,
    ) {
        let name = template_name(mail, part, language);
        if let Err(error) = self
            .templates
            .add_template_owned(name.clone(), source.to_owned())
        {
            let detail = error.detail().unwrap_or("syntax error").to_owned();
            let line = error
                .line()
                .map(|l| format!(" (line {l} of the template)"))
                .unwrap_or_default();
            self.error(
                pointer,
                format!("this template does not compile: {detail}{line}"),
                "templates use minijinja syntax: `{{ candidate.first_name }}`, `{% if … %}…{% endif %}`",
            );
            return;
        }
        self.filters_and_tests(pointer, source);
        let Ok(template) = self.templates.get_template(&name) else {
            return;
        };
        let what = if mail.starts_with(&letter_template("")) {
            "letter"
        } else {
            "mail"
        };
        let mut used: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        used.sort();
        let reads = self.template_reads.entry(mail.to_owned()).or_default();
        reads.extend(used.iter().cloned());
        for path in used {
            let names: Vec<&str> = path.split('.').collect();
            if names
                .first()
                .is_some_and(|root| TEMPLATE_GLOBALS.contains(root))
            {
                continue;
            }
            if let Err(error) = shape.check_path(&names, false) {
                let span = self.map.value_span(pointer);
                let text = self.bundle.text.get(span.clone()).unwrap_or("");
                let span = match text.find(&path) {
                    Some(at) => span.start + at..span.start + at + path.len(),
                    None => span,
                };
                let hint =
                    match did_you_mean(&error.segment, error.known.iter().map(String::as_str)) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None if error.known.is_empty() => "this value has no named parts".into(),
                        None => format!("the names known here are: {}", error.known.join(", ")),
                    };
                self.diagnostics.push(
                    self.main,
                    span,
                    format!("`{path}` is not a variable this {what} can use"),
                    hint,
                );
            }
        }
    }

    /// Reports the filters and tests a template names that do not exist:
    /// minijinja looks them up only when it renders, so an unknown one would
    /// fail for the candidates of one language only, at run time.
    fn filters_and_tests(&mut self, pointer: &str, source: &str) {
        for (kind, name) in filters_and_tests_named(source) {
            let probe = match kind {
                "filter" => format!("{{{{ 1 | {name} }}}}"),
                _ => format!("{{% if 1 is {name} %}}{{% endif %}}"),
            };
            let unknown = self
                .templates
                .render_str(&probe, ())
                .err()
                .is_some_and(|error| {
                    matches!(
                        error.kind(),
                        minijinja::ErrorKind::UnknownFilter | minijinja::ErrorKind::UnknownTest
                    )
                });
            if !unknown {
                continue;
            }
            let span = self.map.value_span(pointer);
            let text = self.bundle.text.get(span.clone()).unwrap_or("");
            let span = match text.find(name.as_str()) {
                Some(at) => span.start + at..span.start + at + name.len(),
                None => span,
            };
            self.diagnostics.push(
                self.main,
                span,
                format!("`{name}` is not a {kind} templates know"),
                "see minijinja's built-in filters and tests (`upper`, `default`, `join`, `is defined`…)",
            );
        }
    }

    pub(super) fn accounts(&mut self) {
        let def = self.def;
        let mails = &def.accounts.mails;
        for (key, id) in [
            ("activation", &mails.activation),
            ("activated", &mails.activated),
            ("password_reset", &mails.password_reset),
            ("email_change", &mails.email_change),
            ("email_changed", &mails.email_changed),
        ] {
            let Some(id) = id else { continue };
            let pointer = format!("/accounts/mails/{key}");
            match def.mails.iter().find(|m| &m.id == id) {
                None => {
                    let known: Vec<&str> = def.mails.iter().map(|m| m.id.as_str()).collect();
                    self.unknown(&pointer, "mail", id, &known);
                }
                Some(mail) if mail.about != MailSubject::Account => self.error(
                    &pointer,
                    format!("mail `{id}` is not about an account"),
                    format!("add `about: account` to mail `{id}`"),
                ),
                Some(_) => {}
            }
        }
        self.unique(
            "/accounts/sso",
            "sso",
            def.accounts.sso.iter().map(|s| s.id.as_str()),
        );
    }

    pub(super) fn tests(&mut self) {
        let def = self.def;
        let formations: Vec<&str> = def.formations.iter().map(|f| f.id.as_str()).collect();
        let pieces: Vec<&str> = def.pieces.iter().map(|p| p.id.as_str()).collect();
        let roles: Vec<&str> = def.roles.iter().map(|r| r.id.as_str()).collect();
        let mails: Vec<&str> = def.mails.iter().map(|m| m.id.as_str()).collect();
        let sections: Vec<&str> = def.profile.iter().map(|s| s.id.as_str()).collect();
        for (t, test) in def.tests.iter().enumerate() {
            let at = format!("/tests/{t}");
            if let Some(today) = &test.today {
                self.date(&format!("{at}/today"), today);
            }
            let mut profiles = vec![(format!("{at}/profile"), &test.profile)];
            for (name, other) in &test.candidates {
                let other_at = format!("{at}/candidates/{}", escape_segment(name));
                profiles.push((format!("{other_at}/profile"), &other.profile));
            }
            let supported = crate::model::SUPPORTED_LANGUAGES;
            let languages: Vec<&str> = if def.languages.is_empty() {
                supported.to_vec()
            } else {
                def.languages.iter().map(String::as_str).collect()
            };
            let mut spoken = vec![(format!("{at}/language"), &test.language)];
            for (name, other) in &test.candidates {
                let other_at = format!("{at}/candidates/{}/language", escape_segment(name));
                spoken.push((other_at, &other.language));
            }
            for (pointer, language) in spoken {
                if let Some(code) = language.as_deref().filter(|c| !languages.contains(c)) {
                    self.unknown(&pointer, "language", code, &languages);
                }
            }
            let mut names = vec!["candidate"];
            names.extend(test.candidates.keys().map(String::as_str));
            for (s, step) in test.steps.iter().enumerate() {
                profiles.push((format!("{at}/steps/{s}/save"), &step.save));
                if let Some(name) = &step.candidate {
                    if !names.contains(&name.as_str()) {
                        let pointer = format!("{at}/steps/{s}/candidate");
                        self.unknown(&pointer, "candidate of this scenario", name, &names);
                    }
                }
            }
            for (pointer, answers) in profiles {
                for section in answers.keys() {
                    if !sections.contains(&section.as_str()) {
                        self.unknown(
                            &format!("{pointer}/{}", escape_segment(section)),
                            "section",
                            section,
                            &sections,
                        );
                    }
                }
            }
            for (s, step) in test.steps.iter().enumerate() {
                let step_at = format!("{at}/steps/{s}");
                if let Some(formation) = &step.apply {
                    if !formations.contains(&formation.as_str()) {
                        self.unknown(
                            &format!("{step_at}/apply"),
                            "formation",
                            formation,
                            &formations,
                        );
                    }
                }
                if let Some(piece) = &step.piece {
                    if !pieces.contains(&piece.as_str()) {
                        self.unknown(&format!("{step_at}/piece"), "piece", piece, &pieces);
                    }
                }
                if let Some(action) = &step.action {
                    let known: Vec<&str> = if step.piece.is_some() {
                        def.workflow
                            .piece_transitions
                            .iter()
                            .map(|t| t.id.as_str())
                            .collect()
                    } else {
                        def.workflow
                            .transitions
                            .iter()
                            .map(|t| t.id.as_str())
                            .collect()
                    };
                    if !known.contains(&action.as_str()) {
                        let what = if step.piece.is_some() {
                            "piece transition"
                        } else {
                            "transition"
                        };
                        self.unknown(&format!("{step_at}/do"), what, action, &known);
                    }
                }
                if let Some(role) = &step.role {
                    if !roles.contains(&role.as_str()) {
                        self.unknown(&format!("{step_at}/as"), "role", role, &roles);
                    }
                }
                let third_parties: Vec<&str> = def
                    .roles
                    .iter()
                    .filter(|r| r.kind == RoleKind::ThirdParty)
                    .map(|r| r.id.as_str())
                    .collect();
                for (key, role) in [("ask", &step.ask), ("send", &step.send)] {
                    if let Some(role) = role
                        .as_ref()
                        .filter(|r| !third_parties.contains(&r.as_str()))
                    {
                        let at = format!("{step_at}/{key}");
                        self.unknown(&at, "third-party role", role, &third_parties);
                    }
                }
                if let Some(date) = &step.wait_until {
                    self.date(&format!("{step_at}/wait_until"), date);
                }
                if let Some(expect) = &step.expect {
                    if let Some(state) = &expect.state {
                        self.state_refs(
                            &format!("{step_at}/expect/state"),
                            &OneOrMany::One(state.clone()),
                        );
                    }
                    for (piece, status) in &expect.pieces {
                        let pointer = format!("{step_at}/expect/pieces/{}", escape_segment(piece));
                        if !pieces.contains(&piece.as_str()) {
                            self.unknown(&pointer, "piece", piece, &pieces);
                        }
                        self.piece_status_refs(&pointer, &OneOrMany::One(status.clone()));
                    }
                    for (key, names) in [
                        ("complete", &expect.complete),
                        ("incomplete", &expect.incomplete),
                    ] {
                        for (n, id) in names.iter().enumerate() {
                            if !sections.contains(&id.as_str()) {
                                self.unknown(
                                    &format!("{step_at}/expect/{key}/{n}"),
                                    "section",
                                    id,
                                    &sections,
                                );
                            }
                        }
                    }
                    for (key, names) in [("hidden", &expect.hidden), ("shown", &expect.shown)] {
                        for (n, name) in names.iter().enumerate() {
                            let pointer = format!("{step_at}/expect/{key}/{n}");
                            let found = name.split_once('.').and_then(|(section, field)| {
                                def.profile
                                    .iter()
                                    .find(|s| s.id == section)?
                                    .fields
                                    .iter()
                                    .find(|f| f.id == field)
                            });
                            if found.is_none() {
                                self.error(
                                    &pointer,
                                    format!("no field `{name}` in the profile"),
                                    "write `section.field` with ids of the profile, e.g. `baccalaureat.annee`",
                                );
                            }
                        }
                    }
                    for (m, mail) in expect.mails.iter().flatten().enumerate() {
                        if !mails.contains(&mail.as_str()) {
                            self.unknown(
                                &format!("{step_at}/expect/mails/{m}"),
                                "mail",
                                mail,
                                &mails,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The filters (`| name`) and tests (`is name`, `is not name`) a template's
/// expressions name, with their kind; text outside `{{ }}` and `{% %}` and
/// string literals are skipped.
fn filters_and_tests_named(source: &str) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find(['{']) {
        rest = &rest[start + 1..];
        let close = match rest.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => continue,
        };
        let end = rest.find(close).unwrap_or(rest.len());
        scan_expression(&rest[1..end], &mut found);
        rest = &rest[end..];
    }
    found
}

/// Adds the filters and tests named in one expression (quotes skipped).
fn scan_expression(expression: &str, found: &mut Vec<(&'static str, String)>) {
    let mut words: Vec<String> = Vec::new();
    let mut chars = expression.chars().peekable();
    let mut after_pipe = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                // A string literal: skipped to its end.
                while let Some(next) = chars.next() {
                    if next == '\\' {
                        chars.next();
                    } else if next == c {
                        break;
                    }
                }
                words.clear();
            }
            '|' => after_pipe = true,
            c if c.is_alphabetic() || c == '_' => {
                let mut word = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_alphanumeric() || next == '_' {
                        word.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if after_pipe {
                    found.push(("filter", word.clone()));
                    after_pipe = false;
                } else if word != "not" && follows_is(&words) {
                    found.push(("test", word.clone()));
                }
                words.push(word);
            }
            c if c.is_whitespace() => {}
            _ => {
                after_pipe = false;
                words.clear();
            }
        }
    }
}

/// Whether the words so far end with `is` or `is not`: the next names a test.
fn follows_is(words: &[String]) -> bool {
    match words {
        [.., last] if last == "is" => true,
        [.., is, not] => is == "is" && not == "not",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::filters_and_tests_named;

    #[test]
    fn filters_and_tests_are_found_in_expressions_only() {
        let source = "Hello | world {{ name | upper | foo('a|b') }} {% if x is not defined %}{{ y is odd }}{% endif %}";
        let named = filters_and_tests_named(source);
        let found: Vec<(&str, &str)> = named.iter().map(|(k, n)| (*k, n.as_str())).collect();
        assert_eq!(
            found,
            [
                ("filter", "upper"),
                ("filter", "foo"),
                ("test", "defined"),
                ("test", "odd")
            ]
        );
    }
}
