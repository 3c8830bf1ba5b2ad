//! What happened to a dossier, and what comes next, in the candidate's words.

use std::fmt::Write;

use guichet_engine::{
    lacks_a_piece, transitions_from, Candidature, Command, Definition, Dossier, Event,
};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::site::{Escaped, Lang};

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
    let missing = lacks_a_piece(definition, dossier, candidature, now).unwrap_or(false);
    if missing {
        lang.t("next_pieces")
    } else {
        first.label.get(lang.code()).to_owned()
    }
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

impl Reader {
    /// Whether this reader's history shows `event`.
    pub fn reads(self, event: &Event) -> bool {
        self == Reader::Staff || !matches!(event.command, Some(Command::Note { .. }))
    }
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

/// What a history line says happened, in words lent by the definition, the
/// event and the page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What<'a> {
    /// A word alone ("Dossier créé").
    Word(&'a str),
    /// A word, then what it names ("Rubrique enregistrée : État civil").
    Of(&'a str, &'a str),
    /// A piece's step, then the piece ("Pièce déposée : CV").
    Step(&'a str, &'a str),
}

/// One event of the dossier's history, as a line says it.
struct HistoryLine<'a> {
    at: Timestamp,
    what: What<'a>,
    /// Who did it (for staff): their name, if the line gives it, and their
    /// role.
    who: Option<(Option<&'a str>, &'a str)>,
}

/// The dossier's `events` (oldest first, as the store reads them) as
/// `reader` reads them, newest first.
fn describe<'a>(
    definition: &'a Definition,
    events: &'a [Event],
    lang: Lang,
    reader: Reader,
) -> impl Iterator<Item = HistoryLine<'a>> {
    let code = lang.code();
    events
        .iter()
        .rev()
        .filter(move |event| reader.reads(event))
        .map(move |event| {
            let what = match &event.command {
                None => What::Word(lang.word("event_created")),
                Some(Command::SaveSection { section, .. }) => {
                    let title = definition
                        .file()
                        .profile
                        .iter()
                        .find(|s| &s.id == section)
                        .map_or(section.as_str(), |s| s.title.get(code));
                    What::Of(lang.word("event_section"), title)
                }
                Some(Command::Apply { formation }) => {
                    let title = definition
                        .formation(formation)
                        .map_or(formation.as_str(), |f| f.title.get(code));
                    What::Of(lang.word("event_applied"), title)
                }
                Some(Command::Transition { transition, .. }) => What::Word(
                    definition
                        .transition(transition)
                        .map_or(transition.as_str(), |tr| tr.label.get(code)),
                ),
                Some(Command::Piece {
                    piece, transition, ..
                }) => {
                    let step = definition
                        .piece_transition(transition)
                        .map_or(transition.as_str(), |tr| tr.label.get(code));
                    let label = definition
                        .piece(piece)
                        .map_or(piece.as_str(), |p| p.label.get(code));
                    What::Step(step, label)
                }
                Some(Command::Deadline { deadline, .. }) => {
                    let label = definition
                        .file()
                        .workflow
                        .deadlines
                        .iter()
                        .find(|d| &d.id == deadline)
                        .map_or(deadline.as_str(), |d| d.label.get(code));
                    What::Of(lang.word("event_deadline"), label)
                }
                Some(Command::UpdateCandidate { .. }) => What::Word(lang.word("event_identity")),
                Some(Command::Note { .. }) => What::Word(lang.word("event_note")),
                Some(Command::SaveForm { .. }) => What::Word(lang.word("event_form")),
                Some(Command::Migrate { .. }) => What::Word(lang.word("event_migrated")),
                Some(Command::Ask { role, .. }) => {
                    let label = definition
                        .role(role)
                        .map_or(role.as_str(), |r| r.label.get(code));
                    What::Of(lang.word("event_asked"), label)
                }
                Some(Command::Deliver { .. }) => {
                    let label = delivered_piece(definition, event)
                        .and_then(|piece| definition.piece(piece))
                        .map_or("", |p| p.label.get(code));
                    What::Of(lang.word("event_delivered"), label)
                }
            };
            let who = (reader == Reader::Staff).then(|| {
                let role = definition
                    .role(&event.actor.role)
                    .map_or(event.actor.role.as_str(), |r| r.label.get(code));
                // A third party is named on the piece, for those who read it;
                // the history, which every staff role reads, says only the role.
                let third_party = matches!(event.command, Some(Command::Deliver { .. }));
                let name = event.actor.name.as_deref().filter(|_| !third_party);
                (name, role)
            });
            HistoryLine {
                at: event.at,
                what,
                who,
            }
        })
}

/// The history of `events` (oldest first, as the store reads them) as
/// `reader` reads them in `lang`, newest first, as HTML: when, what, and
/// who for staff; nothing when there is no line.
///
/// Written here rather than in a template, as the pieces are (see
/// [`super::pieces`]): the candidate's dashboard, the staff's candidature
/// page and their conflict notices all show a history, and a dossier's
/// history grows with it. Every word goes through [`Escaped`], which
/// writes what the templates' escaping writes.
pub fn history_html(
    definition: &Definition,
    events: &[Event],
    lang: Lang,
    reader: Reader,
) -> minijinja::Value {
    let lines = describe(definition, events, lang, reader);
    minijinja::Value::from_safe_string(written(lines, definition.timezone()))
}

/// `lines` as an HTML list, each day read on the clocks of `timezone`.
fn written<'a>(lines: impl Iterator<Item = HistoryLine<'a>>, timezone: &TimeZone) -> String {
    let mut lines = lines.peekable();
    let mut html = String::new();
    if lines.peek().is_none() {
        return html;
    }
    // The lines' upper bound: the readers' filter drops few.
    html.reserve(48 + 128 * lines.size_hint().1.unwrap_or_default());
    html.push_str("<ol class=\"history\">\n");
    for line in lines {
        // Writing to a `String` cannot fail. The time's digits and signs
        // need no escaping.
        let _ = write!(html, "<li><time datetime=\"{}\">", line.at);
        write_day(&mut html, timezone.to_offset(line.at).to_datetime(line.at));
        html.push_str("</time> — ");
        let _ = match line.what {
            What::Word(word) => write!(html, "{}", Escaped(word)),
            What::Of(word, named) => write!(html, "{} {}", Escaped(word), Escaped(named)),
            What::Step(step, piece) => write!(html, "{} : {}", Escaped(step), Escaped(piece)),
        };
        let _ = match line.who {
            Some((Some(name), role)) if !name.is_empty() => {
                write!(html, " — {} ({})", Escaped(name), Escaped(role))
            }
            Some((_, role)) if !role.is_empty() => write!(html, " — {}", Escaped(role)),
            _ => Ok(()),
        };
        html.push_str("</li>");
    }
    html.push_str("\n</ol>");
    html
}

/// `day` as `dd/mm/yyyy hh:mm`, its digits put in place one by one:
/// through `format!`'s padding, they took a third of a history's writing.
fn write_day(html: &mut String, day: jiff::civil::DateTime) {
    let mut text = *b"00/00/0000 00:00";
    let mut put = |end: usize, number: u16| {
        let mut number = number;
        for place in text[..end]
            .iter_mut()
            .rev()
            .take_while(|c| c.is_ascii_digit())
        {
            *place = b'0' + (number % 10) as u8;
            number /= 10;
        }
    };
    put(2, u16::from(day.day().unsigned_abs()));
    put(5, u16::from(day.month().unsigned_abs()));
    put(10, day.year().unsigned_abs());
    put(13, u16::from(day.hour().unsigned_abs()));
    put(16, u16::from(day.minute().unsigned_abs()));
    // Only ASCII digits were put in an ASCII text.
    html.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;

    use super::{written, HistoryLine, What};

    /// A history's lines escaped as the templates would, each day on the
    /// procedure's clocks, who acted shown only when given; nothing at all
    /// for no line.
    #[test]
    fn history_lines_escape_and_name_who_acted_only_when_given() {
        let line = |at: &str, what, who| HistoryLine {
            at: at.parse().expect("a timestamp"),
            what,
            who,
        };
        let paris = TimeZone::get("Europe/Paris").expect("the time zone");
        let html = written(
            [
                line(
                    "2027-03-12T09:00:00Z",
                    What::Of("Note", "<b>"),
                    Some((Some("Alex & Co"), "Gestionnaire")),
                ),
                line(
                    "2027-07-01T22:30:00.5Z",
                    What::Step("Pièce déposée", "CV"),
                    Some((Some(""), "Commission")),
                ),
                line("2027-03-10T09:00:00Z", What::Word("Dossier créé"), None),
            ]
            .into_iter(),
            &paris,
        );
        assert_eq!(
            html,
            "<ol class=\"history\">\n\
             <li><time datetime=\"2027-03-12T09:00:00Z\">12/03/2027 10:00</time> — \
             Note &lt;b&gt; — Alex &amp; Co (Gestionnaire)</li>\
             <li><time datetime=\"2027-07-01T22:30:00.5Z\">02/07/2027 00:30</time> — \
             Pièce déposée : CV — Commission</li>\
             <li><time datetime=\"2027-03-10T09:00:00Z\">10/03/2027 10:00</time> — \
             Dossier créé</li>\n</ol>"
        );
        assert_eq!(written(std::iter::empty(), &paris), "");
    }
}
