//! What happened to a dossier, and what comes next, in the candidate's words.

use std::fmt::Write;

use guichet_engine::{
    missing_pieces, transitions_from, Candidature, Command, Definition, Dossier, Event,
};
use jiff::Timestamp;
use minijinja::HtmlEscape;

use super::site::Lang;

/// The next thing the candidate can do for `candidature`, if anything.
///
/// Read from the transitions the candidate performs from where it stands
/// and from its missing pieces, not from their guards: a dashboard names the
/// step, the candidature's page says whether it can be taken yet.
pub fn next_step(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    (lang, now): (Lang, Timestamp),
) -> String {
    let final_state = definition
        .state(&candidature.state)
        .is_some_and(|s| s.is_final);
    if final_state {
        return String::new();
    }
    let role = definition.candidate_role();
    let mut offered = transitions_from(definition, candidature, role);
    let Some(first) = offered.next() else {
        return lang.t("next_wait");
    };
    let missing = missing_pieces(definition, dossier, candidature, now)
        .is_ok_and(|missing| !missing.is_empty());
    if missing {
        lang.t("next_pieces")
    } else {
        first.label.get(lang.code()).to_owned()
    }
}

/// One event of the dossier's history.
pub struct HistoryLine {
    /// When, as a timestamp.
    at: String,
    /// When, for people.
    day: String,
    /// What happened.
    what: String,
    /// Who did it (for staff): name and role.
    who: Option<String>,
}

/// Who reads a history: the candidate does not see the staff's notes, nor
/// which staff member acted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The dossier's candidate.
    Candidate,
    /// Staff.
    Staff,
}

/// Whether `event` is about `candidature` or about its dossier as a whole.
/// A staff member reads the history of the candidature they opened: the
/// candidate's others may be in formations outside their scope.
pub fn concerns(event: &Event, candidature: &Candidature) -> bool {
    match &event.command {
        Some(Command::Apply { formation }) => *formation == candidature.formation,
        Some(command) => command.candidature().is_none_or(|id| id == candidature.id),
        None => true,
    }
}

/// What a history line names beside its action: a profile section, or a
/// piece (a piece's step, the complementary form that stands for its
/// piece, the piece a third party delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named<'a> {
    Section(&'a str),
    Piece(&'a str),
}

/// What `event`, on a candidature to `formation`, names, if anything.
pub fn named<'a>(
    definition: &'a Definition,
    event: &'a Event,
    formation: &str,
) -> Option<Named<'a>> {
    match &event.command {
        Some(Command::SaveSection { section, .. }) => Some(Named::Section(section)),
        Some(Command::Piece { piece, .. }) => Some(Named::Piece(piece)),
        Some(Command::SaveForm { .. }) => definition
            .form_of(formation)
            .and_then(|form| form.piece.as_deref())
            .map(Named::Piece),
        Some(Command::Deliver { .. }) => delivered_piece(definition, event).map(Named::Piece),
        _ => None,
    }
}

/// The piece the third party of a delivery `event` provides.
fn delivered_piece<'a>(definition: &'a Definition, event: &Event) -> Option<&'a str> {
    definition.role(&event.actor.role)?.provides.as_deref()
}

/// The dossier's events, newest first, each with its day and a description.
pub fn describe(
    definition: &Definition,
    events: &[Event],
    lang: Lang,
    reader: Reader,
) -> Vec<HistoryLine> {
    let t = |key: &str| lang.t(key);
    let lang = lang.code();
    events
        .iter()
        .rev()
        .filter(|event| {
            reader == Reader::Staff || !matches!(event.command, Some(Command::Note { .. }))
        })
        .map(|event| {
            let what = match &event.command {
                None => t("event_created"),
                Some(Command::SaveSection { section, .. }) => {
                    let title = definition
                        .file()
                        .profile
                        .iter()
                        .find(|s| &s.id == section)
                        .map_or(section.as_str(), |s| s.title.get(lang));
                    format!("{} {title}", t("event_section"))
                }
                Some(Command::Apply { formation }) => {
                    let title = definition
                        .formation(formation)
                        .map_or(formation.as_str(), |f| f.title.get(lang));
                    format!("{} {title}", t("event_applied"))
                }
                Some(Command::Transition { transition, .. }) => definition
                    .transition(transition)
                    .map_or_else(|| transition.clone(), |tr| tr.label.get(lang).to_owned()),
                Some(Command::Piece {
                    piece, transition, ..
                }) => {
                    let action = definition
                        .piece_transition(transition)
                        .map_or(transition.as_str(), |tr| tr.label.get(lang));
                    let label = definition
                        .piece(piece)
                        .map_or(piece.as_str(), |p| p.label.get(lang));
                    format!("{action} : {label}")
                }
                Some(Command::Deadline { deadline, .. }) => {
                    let label = definition
                        .file()
                        .workflow
                        .deadlines
                        .iter()
                        .find(|d| &d.id == deadline)
                        .map_or(deadline.as_str(), |d| d.label.get(lang));
                    format!("{} {label}", t("event_deadline"))
                }
                Some(Command::UpdateCandidate { .. }) => t("event_identity"),
                Some(Command::Note { .. }) => t("event_note"),
                Some(Command::SaveForm { .. }) => t("event_form"),
                Some(Command::Migrate { .. }) => t("event_migrated"),
                Some(Command::Ask { role, .. }) => {
                    let label = definition
                        .role(role)
                        .map_or(role.as_str(), |r| r.label.get(lang));
                    format!("{} {label}", t("event_asked"))
                }
                Some(Command::Deliver { .. }) => {
                    let label = delivered_piece(definition, event)
                        .and_then(|piece| definition.piece(piece))
                        .map_or("", |p| p.label.get(lang));
                    format!("{} {label}", t("event_delivered"))
                }
            };
            let who = (reader == Reader::Staff).then(|| {
                let role = definition
                    .role(&event.actor.role)
                    .map_or(event.actor.role.as_str(), |r| r.label.get(lang));
                // A third party is named on the piece, for those who read it;
                // the history, which every staff role reads, says only the role.
                let third_party = matches!(event.command, Some(Command::Deliver { .. }));
                match &event.actor.name {
                    Some(name) if !third_party => format!("{name} ({role})"),
                    _ => role.to_owned(),
                }
            });
            let day = event
                .at
                .to_zoned(definition.timezone().clone())
                .strftime("%d/%m/%Y %H:%M")
                .to_string();
            HistoryLine {
                at: event.at.to_string(),
                day,
                what,
                who,
            }
        })
        .collect()
}

/// The HTML of a history's `lines` (of [`describe`]): when, what, and who
/// for staff; nothing when there is none.
///
/// Written here rather than in a template, as the pieces are (see
/// [`super::pieces`]): the candidate's dashboard, the staff's candidature
/// page and their conflict notices all show a history. Every value goes
/// through minijinja's own `HtmlEscape`, as the templates escape.
pub fn history_html(lines: &[HistoryLine]) -> minijinja::Value {
    let mut html = String::new();
    if !lines.is_empty() {
        html.reserve(48 + 128 * lines.len());
        html.push_str("<ol class=\"history\">\n");
        for line in lines {
            // Writing to a `String` cannot fail.
            let _ = write!(
                html,
                "<li><time datetime=\"{}\">{}</time> — {}",
                HtmlEscape(&line.at),
                HtmlEscape(&line.day),
                HtmlEscape(&line.what)
            );
            if let Some(who) = line.who.as_deref().filter(|who| !who.is_empty()) {
                let _ = write!(html, " — {}", HtmlEscape(who));
            }
            html.push_str("</li>");
        }
        html.push_str("\n</ol>");
    }
    minijinja::Value::from_safe_string(html)
}

#[cfg(test)]
mod tests {
    use super::{history_html, HistoryLine};

    /// A history's lines escaped as the templates would, who acted shown
    /// only when given; nothing at all for no line.
    #[test]
    fn history_lines_escape_and_name_who_acted_only_when_given() {
        let line = |at: &str, what: &str, who: Option<&str>| HistoryLine {
            at: at.into(),
            day: format!("{}/{}/{} 10:00", &at[8..10], &at[5..7], &at[..4]),
            what: what.into(),
            who: who.map(Into::into),
        };
        let html = history_html(&[
            line(
                "2027-03-12T09:00:00Z",
                "Note <b>",
                Some("Alex & Co (Gestionnaire)"),
            ),
            line("2027-03-11T09:00:00Z", "Pièce déposée", Some("")),
            line("2027-03-10T09:00:00Z", "Dossier créé", None),
        ]);
        assert!(html.is_safe());
        assert_eq!(
            html.as_str(),
            Some(
                "<ol class=\"history\">\n\
                 <li><time datetime=\"2027-03-12T09:00:00Z\">12&#x2f;03&#x2f;2027 10:00</time> — \
                 Note &lt;b&gt; — Alex &amp; Co (Gestionnaire)</li>\
                 <li><time datetime=\"2027-03-11T09:00:00Z\">11&#x2f;03&#x2f;2027 10:00</time> — \
                 Pièce déposée</li>\
                 <li><time datetime=\"2027-03-10T09:00:00Z\">10&#x2f;03&#x2f;2027 10:00</time> — \
                 Dossier créé</li>\n</ol>"
            )
        );
        let none = history_html(&[]);
        assert!(none.is_safe() && !none.is_true());
    }
}
