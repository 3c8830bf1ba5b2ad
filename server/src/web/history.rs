//! What happened to a dossier, and what comes next, in the candidate's words.

use guichet_engine::{Candidature, Command, Definition, Dossier, Event};
use jiff::Timestamp;
use serde_json::{json, Value};

use super::strings::t;

/// The next thing the candidate can do for `candidature`, if anything.
pub fn next_step(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    lang: &str,
) -> String {
    let role = definition.candidate_role();
    let offered: Vec<&str> = definition
        .file()
        .workflow
        .transitions
        .iter()
        .filter(|tr| {
            tr.by.ids().contains(&role) && tr.from.ids().contains(&candidature.state.as_str())
        })
        .map(|tr| tr.label.get(lang))
        .collect();
    let missing =
        guichet_engine::candidature_context(definition, dossier, candidature, Timestamp::now())
            .ok()
            .and_then(|c| {
                c["candidature"]["missing_pieces"]
                    .as_array()
                    .map(|m| !m.is_empty())
            })
            .unwrap_or(false);
    let final_state = definition
        .state(&candidature.state)
        .is_some_and(|s| s.is_final);
    if final_state {
        String::new()
    } else if missing && !offered.is_empty() {
        t(lang, "next_pieces")
    } else if let Some(first) = offered.first() {
        (*first).to_owned()
    } else {
        t(lang, "next_wait")
    }
}

/// The dossier's events, newest first, each with its day and a description.
pub fn describe(definition: &Definition, events: &[Event], lang: &str) -> Vec<Value> {
    events
        .iter()
        .rev()
        .map(|event| {
            let what = match &event.command {
                None => t(lang, "event_created"),
                Some(Command::SaveSection { section, .. }) => {
                    let title = definition
                        .file()
                        .profile
                        .iter()
                        .find(|s| &s.id == section)
                        .map_or(section.as_str(), |s| s.title.get(lang));
                    format!("{} {title}", t(lang, "event_section"))
                }
                Some(Command::Apply { formation }) => {
                    let title = definition
                        .formation(formation)
                        .map_or(formation.as_str(), |f| f.title.get(lang));
                    format!("{} {title}", t(lang, "event_applied"))
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
                    format!("{} {label}", t(lang, "event_deadline"))
                }
                Some(Command::UpdateCandidate { .. }) => t(lang, "event_identity"),
            };
            let day = event
                .at
                .to_zoned(definition.timezone().clone())
                .strftime("%d/%m/%Y %H:%M")
                .to_string();
            json!({"at": event.at.to_string(), "day": day, "what": what})
        })
        .collect()
}
