//! A candidature as staff see it: the copy the candidate sent (answers and
//! pieces, each viewable in the page), the actions the member's roles give
//! (on pieces, with a comment where the definition asks one; transitions,
//! with their input form), the history with who did what, and the staff's
//! internal note.

use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use guichet_engine::model::{CommentRule, FieldDef, FileFormat};
use guichet_engine::{
    actions_in, Actions, Candidature, Command, Definition, Dossier, EngineError, Event, FileRef,
    Outcome, PieceState, WorkflowError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::super::dossier::answers_from;
use super::super::error::{blocking, PageError, PageResult};
use super::super::extract::CsrfForm;
use super::super::fields::{
    display, field_view, fields_html, problem_links, FieldView, ProblemLink,
};
use super::super::history::{concerns, history_html, named, Named, Reader};
use super::super::site::Lang;
use super::super::words::refusal;
use super::member::{SeenCandidature, Staff};
use crate::web::reading::{answer_text, as_section, section_view, Answer, SectionView};

/// What `staff` may do on `candidature`, under each role they hold; the
/// first role that may take an action is the one it is taken with.
pub(super) fn actions_of<'d>(
    staff: &Staff,
    definition: &'d Definition,
    dossier: &Dossier,
    candidature: &Candidature,
) -> Result<Vec<(String, Actions<'d>)>, PageError> {
    let now = staff.visit.state.clock.now();
    let context = guichet_engine::candidature_context(definition, dossier, candidature, now)
        .map_err(PageError::internal)?;
    staff
        .roles(definition)
        .into_iter()
        .map(|role| {
            let actor = staff.actor(role);
            let actions = actions_in(definition, dossier, candidature, &actor, &context)
                .map_err(PageError::internal)?;
            Ok((role.to_owned(), actions))
        })
        .collect()
}

fn member_actions(seen: &SeenCandidature) -> Result<Vec<(String, Actions<'_>)>, PageError> {
    actions_of(
        &seen.staff,
        &seen.definition,
        &seen.dossier,
        seen.candidature()?,
    )
}

/// The role the member takes transition `id` with (or piece transition `id`
/// on `piece`), if one of theirs may.
pub(super) fn role_for(
    actions: &[(String, Actions)],
    id: &str,
    piece: Option<&str>,
) -> Option<String> {
    actions
        .iter()
        .find(|(_, a)| match piece {
            Some(piece) => a.piece(piece).iter().any(|p| p.id == id),
            None => a.transition(id).is_some(),
        })
        .map(|(role, _)| role.clone())
}

#[derive(Serialize)]
struct ActionView {
    label: String,
    url: String,
    comment: &'static str,
    id: String,
}

#[derive(Serialize)]
struct PieceView {
    id: String,
    label: String,
    status: String,
    comment: Option<String>,
    file: Option<String>,
    view: Option<String>,
    download: Option<String>,
    pdf: bool,
    image: bool,
    actions: Vec<ActionView>,
    /// For a piece third parties send: each request and its letter.
    letters: Vec<LetterView>,
}

/// A third party's letter as staff see it.
#[derive(Serialize)]
struct LetterView {
    name: String,
    email: String,
    state: String,
    download: Option<String>,
}

#[derive(Serialize)]
struct TransitionView {
    label: String,
    url: String,
    allowed: bool,
    refusal: Option<String>,
    /// Opens a form (the transition takes input) rather than acting at once.
    form: bool,
}

#[derive(Serialize)]
struct StaffCandidaturePage {
    /// The candidature as one PDF.
    pdf: String,
    /// The letters issued to it.
    letters: Vec<crate::web::dossier_pdf::LetterLink>,
    name: String,
    email: String,
    dossier: String,
    formation: String,
    state: String,
    sent: Option<String>,
    data: Vec<Answer>,
    sections: Vec<SectionView>,
    pieces: Vec<PieceView>,
    transitions: Vec<TransitionView>,
    /// What happened to the candidature, as HTML.
    history: minijinja::Value,
    note: String,
    note_action: String,
    back: String,
    error: Option<String>,
    /// The dossier's version shown, which the page's forms send back.
    seen_version: u64,
    /// What happened since the member's page was made, when that kept their
    /// action from being taken, as HTML.
    changes: minijinja::Value,
    /// What the member typed with that action, given back.
    typed: Option<String>,
}

/// The pieces staff decide on: those sent, once the candidature was sent.
fn pieces_of(candidature: &Candidature) -> &std::collections::BTreeMap<String, PieceState> {
    candidature
        .sent
        .as_ref()
        .map_or(&candidature.pieces, |sent| &sent.pieces)
}

/// Whether the member's roles read the section or piece `event` names: a
/// history line gives only its title, but that tells what the candidate
/// wrote or sent, and when, which a role that does not read it is not told.
fn names_what_is_read(
    definition: &Definition,
    rights: &crate::staff_store::Rights,
    event: &Event,
    candidature: &Candidature,
) -> bool {
    match named(definition, event, &candidature.formation) {
        Some(Named::Section(section)) => rights.reads_section(definition, section),
        Some(Named::Piece(piece)) => rights.reads_piece(definition, piece),
        None => true,
    }
}

/// The candidature's history as the member's roles may read it, oldest
/// first.
fn history_read(seen: &SeenCandidature) -> Result<Vec<Event>, PageError> {
    let (definition, candidature) = (seen.definition.as_ref(), seen.candidature()?);
    let rights = &seen.staff.member.rights;
    let mut history = seen
        .staff
        .visit
        .state
        .engine
        .history_without_changes(&seen.dossier.id)?;
    history.retain(|event| {
        concerns(event, candidature) && names_what_is_read(definition, rights, event, candidature)
    });
    Ok(history)
}

/// What happened to the candidature since the page the form was sent from
/// was made (the version its forms carry as `vu`), as its history reads
/// it; empty when nothing the page shows changed, or when the form does
/// not say which version it saw.
///
/// A member acts on what their page showed: a colleague may have decided
/// in between, and a decision made on a page minutes old would otherwise
/// apply to a candidature the member has not seen.
fn changed_since_page(seen: &SeenCandidature, form: &CsrfForm) -> Result<Vec<Event>, PageError> {
    let Some(page_version) = form.get("vu").and_then(|v| v.trim().parse::<u64>().ok()) else {
        return Ok(Vec::new());
    };
    if page_version >= seen.dossier.version {
        return Ok(Vec::new());
    }
    let mut since = history_read(seen)?;
    since.retain(|event| event.version > page_version);
    Ok(since)
}

/// Why a member's action was not taken: the candidature changed since
/// their page was made.
struct ChangedMeanwhile {
    changes: Vec<Event>,
    /// What they typed with the action, given back.
    typed: Option<String>,
}

fn render(seen: &SeenCandidature, error: Option<String>) -> PageResult {
    render_page(seen, error, None)
}

/// The candidature's page as it is now, saying that the action sent from
/// an older page was not taken, and what changed.
fn render_changed(seen: &SeenCandidature, changed: ChangedMeanwhile) -> PageResult {
    let message = seen.staff.visit.lang.t("staff_changed_meanwhile");
    render_page(seen, Some(message), Some(changed))
}

fn render_page(
    seen: &SeenCandidature,
    error: Option<String>,
    changed: Option<ChangedMeanwhile>,
) -> PageResult {
    let lang = seen.staff.visit.lang;
    let code = lang.code();
    let (definition, dossier) = (seen.definition.as_ref(), &seen.dossier);
    let candidature = seen.candidature()?;
    let actions = member_actions(seen)?;
    let base = seen.path();
    let profile = dossier.answers_of(&candidature.id);
    let rights = &seen.staff.member.rights;
    let mut sections: Vec<SectionView> = definition
        .file()
        .profile
        .iter()
        .filter(|section| rights.reads_section(definition, &section.id))
        .map(|section| section_view(definition, section, profile.get(&section.id), lang))
        .collect();
    // The complementary form's answers, where the role reads its piece.
    let form = definition.form_of(&candidature.formation);
    if let (Some(form), Some(answers)) = (form, &candidature.form) {
        if form
            .piece
            .as_deref()
            .is_none_or(|piece| rights.reads_piece(definition, piece))
        {
            let section = as_section(form);
            let answers = Value::Object(answers.clone());
            sections.push(section_view(definition, &section, Some(&answers), lang));
        }
    }
    let pieces = definition
        .formation(&candidature.formation)
        .map(|f| f.pieces.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|piece_id| rights.reads_piece(definition, piece_id))
        .filter_map(|piece_id| {
            let piece = definition.piece(piece_id)?;
            let state = pieces_of(candidature).get(piece_id)?;
            let file = state.file.as_ref();
            let format = file.and_then(|f| FileFormat::from_name(&f.format));
            let file_url = format!("{base}/pieces/{piece_id}/fichier-envoye");
            let piece_actions = actions
                .iter()
                .flat_map(|(_, a)| a.piece(piece_id))
                .filter(|a| a.allowed)
                .filter_map(|a| {
                    let transition = definition.piece_transition(a.id)?;
                    Some(ActionView {
                        label: a.label.get(code).to_owned(),
                        url: lang.href(&format!("{base}/pieces/{piece_id}/{}", a.id)),
                        comment: match transition.comment {
                            CommentRule::None => "none",
                            CommentRule::Optional => "optional",
                            CommentRule::Required => "required",
                        },
                        id: format!("{piece_id}-{}", a.id),
                    })
                })
                .collect();
            Some(PieceView {
                id: piece_id.clone(),
                label: piece.label.get(code).to_owned(),
                status: definition
                    .piece_status(&state.status)
                    .map_or(state.status.clone(), |s| s.label.get(code).to_owned()),
                comment: state.comment.clone(),
                file: file.map(|f| f.name.clone()),
                view: file.map(|_| lang.href(&format!("{file_url}?inline=1"))),
                download: file.map(|_| lang.href(&file_url)),
                pdf: format == Some(FileFormat::Pdf),
                image: matches!(format, Some(FileFormat::Jpg | FileFormat::Png)),
                actions: piece_actions,
                letters: letter_views(definition, candidature, piece_id, &base, lang),
            })
        })
        .collect();
    let mut transitions: Vec<TransitionView> = Vec::new();
    let mut offered: Vec<&str> = Vec::new();
    for (_, role_actions) in &actions {
        for action in &role_actions.transitions {
            let Some(transition) = definition.transition(action.id) else {
                continue;
            };
            // A transition two of the member's roles may take shows once.
            if offered.contains(&action.id) {
                continue;
            }
            offered.push(action.id);
            transitions.push(TransitionView {
                label: action.label.get(code).to_owned(),
                url: lang.href(&format!("{base}/transitions/{}", action.id)),
                allowed: action.allowed,
                refusal: action.refusal.as_ref().map(|r| r.get(code).to_owned()),
                form: !transition.input.is_empty(),
            });
        }
    }
    let data = candidature_data(seen, candidature, lang);
    let history = history_read(seen)?;
    let (changes, typed) = changed.map_or((Vec::new(), None), |c| (c.changes, c.typed));
    let status = if !changes.is_empty() {
        StatusCode::CONFLICT
    } else if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = StaffCandidaturePage {
        pdf: lang.href(&format!("{base}/dossier.pdf")),
        letters: crate::web::dossier_pdf::letter_links(candidature, &base, lang),
        name: format!(
            "{} {}",
            dossier.candidate.last_name.to_uppercase(),
            dossier.candidate.first_name
        ),
        email: dossier.candidate.email.clone(),
        dossier: dossier.id.clone(),
        formation: definition
            .formation(&candidature.formation)
            .map_or(candidature.formation.clone(), |f| {
                f.title.get(code).to_owned()
            }),
        state: definition.state_label(&candidature.state, code).to_owned(),
        sent: candidature.sent.as_ref().map(|s| definition.day_of(s.at)),
        data,
        sections,
        pieces,
        transitions,
        history: history_html(definition, &history, lang, Reader::Staff),
        note: candidature.note.clone().unwrap_or_default(),
        note_action: lang.href(&format!("{base}/note")),
        back: lang.href("/staff"),
        error,
        seen_version: dossier.version,
        changes: history_html(definition, &changes, lang, Reader::Staff),
        typed,
    };
    Ok(seen.staff.render("staff/candidature.html", status, &page))
}

/// The values transitions gave or set (a decision, a rank, a date), labelled
/// by the inputs that ask for them.
fn candidature_data(seen: &SeenCandidature, candidature: &Candidature, lang: Lang) -> Vec<Answer> {
    values_given(seen.definition.as_ref(), candidature, lang)
}

/// The values transitions gave or set, labelled by the inputs asking them.
fn values_given(definition: &Definition, candidature: &Candidature, lang: Lang) -> Vec<Answer> {
    let inputs: Vec<&FieldDef> = definition
        .file()
        .workflow
        .transitions
        .iter()
        .flat_map(|t| &t.input)
        .collect();
    candidature
        .data
        .iter()
        .map(|(key, value)| match inputs.iter().find(|f| &f.id == key) {
            Some(field) => Answer {
                label: field.label.get(lang.code()).to_owned(),
                value: answer_text(definition, field, value, lang),
            },
            None => Answer {
                label: key.clone(),
                value: display(value),
            },
        })
        .collect()
}

/// `GET /staff/candidatures/{dossier}/{candidature}`
pub async fn show(seen: SeenCandidature) -> PageResult {
    render(&seen, None)
}

/// Performs `command` as the member with `role`: back to the page, or the
/// page with the engine's refusal in words.
async fn act(seen: SeenCandidature, role: String, command: Command) -> PageResult {
    let result = run(&seen, &role, command).await?;
    answer(seen, result)
}

/// When `form` was sent from a page older than a change to the
/// candidature: the page as it is now, saying what changed and that
/// nothing was done, with what the member typed in `typed_field` given
/// back. Looked at before anything else, the member's rights included: an
/// action a colleague's decision took away is said to be that.
fn changed_page(
    seen: &SeenCandidature,
    form: &CsrfForm,
    typed_field: Option<&str>,
) -> Result<Option<Response>, PageError> {
    let changes = changed_since_page(seen, form)?;
    if changes.is_empty() {
        return Ok(None);
    }
    let typed = typed_field
        .map(|field| form.trimmed(field))
        .filter(|text| !text.is_empty())
        .map(str::to_owned);
    render_changed(seen, ChangedMeanwhile { changes, typed }).map(Some)
}

/// Performs `command` on the seen candidature's dossier, at the version read.
pub(super) async fn run(
    seen: &SeenCandidature,
    role: &str,
    command: Command,
) -> Result<Result<Outcome, EngineError>, PageError> {
    let state = Arc::clone(&seen.staff.visit.state);
    let actor = seen.staff.actor(role);
    let dossier = seen.dossier.clone();
    blocking(move || state.run_as_staff(&actor, &dossier, command)).await
}

fn answer(seen: SeenCandidature, result: Result<Outcome, EngineError>) -> PageResult {
    let lang = seen.staff.visit.lang;
    match result {
        Ok(_) => Ok(Redirect::to(&lang.href(&seen.path())).into_response()),
        Err(error) => render(&seen, Some(refusal(&seen.definition, lang.code(), &error))),
    }
}

/// `POST /staff/candidatures/{dossier}/{candidature}/pieces/{piece}/{transition}`
pub async fn piece_action(
    seen: SeenCandidature,
    Path(at): Path<Vec<(String, String)>>,
    form: CsrfForm,
) -> PageResult {
    let named = |key: &str| at.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let (Some(piece), Some(transition)) = (named("piece"), named("transition")) else {
        return Err(PageError::NotFound);
    };
    if let Some(page) = changed_page(&seen, &form, Some("comment"))? {
        return Ok(page);
    }
    let actions = member_actions(&seen)?;
    let role = role_for(&actions, &transition, Some(&piece)).ok_or(PageError::Forbidden)?;
    let command = Command::Piece {
        candidature: seen.id.clone(),
        piece,
        transition,
        file: None,
        comment: form.get("comment").map(str::to_owned),
    };
    act(seen, role, command).await
}

/// `POST /staff/candidatures/{dossier}/{candidature}/note`
pub async fn note(seen: SeenCandidature, form: CsrfForm) -> PageResult {
    if let Some(page) = changed_page(&seen, &form, Some("note"))? {
        return Ok(page);
    }
    let definition = Arc::clone(&seen.definition);
    let role = seen
        .staff
        .roles(&definition)
        .first()
        .map(|r| (*r).to_owned())
        .ok_or(PageError::Forbidden)?;
    let command = Command::Note {
        candidature: seen.id.clone(),
        text: form.get("note").unwrap_or_default().to_owned(),
    };
    act(seen, role, command).await
}

/// The problems of the values a form sent, by field id.
type Problems = [(String, guichet_engine::Problem)];

#[derive(Serialize)]
struct TransitionPage<'a> {
    heading: String,
    formation: String,
    name: String,
    fields_html: minijinja::Value,
    summary: Vec<ProblemLink<'a>>,
    error: Option<String>,
    action: String,
    button: String,
    back: String,
    /// The dossier's version shown, which the form sends back.
    seen_version: u64,
    /// What happened since the member's form was made, when that kept it
    /// from being taken, as HTML.
    changes: minijinja::Value,
}

/// Why a transition's form is shown again: the engine's refusal, or what
/// changed since the form the member sent was made.
enum FormRefused {
    Refusal(String),
    Changed(Vec<Event>),
}

/// The page of a transition with its input form (and the problems of what
/// was sent, next to each field).
fn transition_page(
    seen: &SeenCandidature,
    transition: &guichet_engine::model::TransitionDef,
    (entry, problems): (&Map<String, Value>, &Problems),
    refused: Option<FormRefused>,
) -> PageResult {
    let lang = seen.staff.visit.lang;
    let code = lang.code();
    let definition = seen.definition.as_ref();
    let candidature = seen.candidature()?;
    let now = seen.staff.visit.state.clock.now();
    let context = guichet_engine::candidature_context(definition, &seen.dossier, candidature, now)
        .map_err(PageError::internal)?;
    let fields: Vec<FieldView> = transition
        .input
        .iter()
        .map(|field| field_view(field, (entry, problems), (definition, &context, &[]), lang))
        .collect();
    let (error, changes) = match refused {
        Some(FormRefused::Refusal(message)) => (Some(message), Vec::new()),
        Some(FormRefused::Changed(changes)) => (Some(lang.t("staff_changed_meanwhile")), changes),
        None => (None, Vec::new()),
    };
    let status = if !changes.is_empty() {
        StatusCode::CONFLICT
    } else if !problems.is_empty() || error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = TransitionPage {
        heading: transition.label.get(code).to_owned(),
        formation: definition
            .formation(&candidature.formation)
            .map_or(candidature.formation.clone(), |f| {
                f.title.get(code).to_owned()
            }),
        name: format!(
            "{} {}",
            seen.dossier.candidate.last_name.to_uppercase(),
            seen.dossier.candidate.first_name
        ),
        fields_html: fields_html(&fields, &lang.t("choose")),
        summary: problem_links(&fields),
        error,
        action: lang.href(&format!("{}/transitions/{}", seen.path(), transition.id)),
        button: transition.label.get(code).to_owned(),
        back: lang.href(&seen.path()),
        seen_version: seen.dossier.version,
        changes: history_html(definition, &changes, lang, Reader::Staff),
    };
    Ok(seen.staff.render("staff/transition.html", status, &page))
}

/// The transition the route names, and the role the member takes it with;
/// a 403 page if none of their roles may take it from here.
fn transition_at(
    seen: &SeenCandidature,
    at: &[(String, String)],
) -> Result<(String, guichet_engine::model::TransitionDef), PageError> {
    let id = at
        .iter()
        .find(|(k, _)| k == "transition")
        .map(|(_, v)| v.as_str())
        .ok_or(PageError::NotFound)?;
    let role = role_for(&member_actions(seen)?, id, None).ok_or(PageError::Forbidden)?;
    let transition = seen.definition.transition(id).ok_or(PageError::NotFound)?;
    Ok((role, transition.clone()))
}

/// `GET /staff/candidatures/{dossier}/{candidature}/transitions/{transition}`:
/// the input form, filled with the values the candidature holds.
pub async fn transition_form(
    seen: SeenCandidature,
    Path(at): Path<Vec<(String, String)>>,
) -> PageResult {
    let (_, transition) = transition_at(&seen, &at)?;
    let candidature = seen.candidature()?;
    let entry: Map<String, Value> = transition
        .input
        .iter()
        .filter_map(|f| Some((f.id.clone(), candidature.data.get(&f.id)?.clone())))
        .collect();
    transition_page(&seen, &transition, (&entry, &[]), None)
}

/// `POST /staff/candidatures/{dossier}/{candidature}/transitions/{transition}`
pub async fn transition(
    seen: SeenCandidature,
    Path(at): Path<Vec<(String, String)>>,
    form: CsrfForm,
) -> PageResult {
    let changes = changed_since_page(&seen, &form)?;
    if !changes.is_empty() {
        // A form the member may still send from here is shown again, the
        // values typed in it, made at the dossier's version now: sent
        // again, it is taken. Otherwise the candidature's page says what
        // changed.
        if let Ok((_, transition)) = transition_at(&seen, &at) {
            if !transition.input.is_empty() {
                let input = answers_from(&transition.input, &form.0);
                let changed = Some(FormRefused::Changed(changes));
                return transition_page(&seen, &transition, (&input, &[]), changed);
            }
        }
        return render_changed(
            &seen,
            ChangedMeanwhile {
                changes,
                typed: None,
            },
        );
    }
    let (role, transition) = transition_at(&seen, &at)?;
    let input = answers_from(&transition.input, &form.0);
    let command = Command::Transition {
        candidature: seen.id.clone(),
        transition: transition.id.clone(),
        input: input.clone(),
    };
    let result = run(&seen, &role, command).await?;
    let lang = seen.staff.visit.lang;
    match result {
        Ok(_) => Ok(Redirect::to(&lang.href(&seen.path())).into_response()),
        Err(error) if transition.input.is_empty() => {
            render(&seen, Some(refusal(&seen.definition, lang.code(), &error)))
        }
        Err(EngineError::Workflow(WorkflowError::InvalidValue { field, problem })) => {
            transition_page(&seen, &transition, (&input, &[(field, problem)]), None)
        }
        Err(error) => {
            let message = refusal(&seen.definition, lang.code(), &error);
            transition_page(
                &seen,
                &transition,
                (&input, &[]),
                Some(FormRefused::Refusal(message)),
            )
        }
    }
}

/// The requests made to the third parties providing `piece_id`, with their
/// letters.
fn letter_views(
    definition: &Definition,
    candidature: &Candidature,
    piece_id: &str,
    base: &str,
    lang: Lang,
) -> Vec<LetterView> {
    let Some(role) = definition.provider_of(piece_id) else {
        return Vec::new();
    };
    candidature
        .requests
        .iter()
        .filter(|r| r.role == role.id)
        .map(|request| LetterView {
            name: request.name.clone(),
            email: request.email.clone(),
            state: match request.received_at {
                Some(at) => lang
                    .t("letter_received")
                    .replace("{date}", &definition.day_of(at)),
                None => lang.t("staff_letter_awaited"),
            },
            download: request.letter.as_ref().map(|_| {
                lang.href(&format!(
                    "{base}/pieces/{piece_id}/lettres/{}",
                    request.entry
                ))
            }),
        })
        .collect()
}

/// `GET /staff/candidatures/{dossier}/{candidature}/pieces/{piece}/lettres/{entry}`:
/// a third party's letter, to staff who read the piece.
pub async fn letter(
    seen: SeenCandidature,
    Path(at): Path<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let value = |key: &str| at.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let piece = value("piece").ok_or(PageError::NotFound)?;
    let entry: usize = value("entry")
        .and_then(|e| e.parse().ok())
        .ok_or(PageError::NotFound)?;
    let candidature = seen.candidature()?;
    let rights = &seen.staff.member.rights;
    let role = seen.definition.provider_of(&piece);
    if !rights.reads_piece(&seen.definition, &piece) || role.is_none() {
        return Err(PageError::NotFound);
    }
    let role = role.map(|r| r.id.clone()).unwrap_or_default();
    let file = candidature
        .requests
        .iter()
        .find(|r| r.role == role && r.entry == entry)
        .and_then(|r| r.letter.clone())
        .ok_or(PageError::NotFound)?;
    super::super::uploads::file_response(&seen.staff.visit.state, &seen.dossier.id, &file, false)
}

#[derive(Deserialize)]
pub struct FileQuery {
    inline: Option<String>,
}

/// `GET /staff/candidatures/{dossier}/{candidature}/pieces/{piece}/fichier-envoye`:
/// the piece as sent, inline (`?inline=1`, for the page's viewer) or as an
/// attachment.
pub async fn file(
    seen: SeenCandidature,
    Path(at): Path<Vec<(String, String)>>,
    Query(query): Query<FileQuery>,
) -> Result<Response, PageError> {
    let piece = at
        .iter()
        .find(|(k, _)| k == "piece")
        .map(|(_, v)| v.clone())
        .ok_or(PageError::NotFound)?;
    let candidature = seen.candidature()?;
    if !seen
        .staff
        .member
        .rights
        .reads_piece(&seen.definition, &piece)
    {
        return Err(PageError::NotFound);
    }
    let file: FileRef = pieces_of(candidature)
        .get(&piece)
        .and_then(|p| p.file.clone())
        .ok_or(PageError::NotFound)?;
    let inline = query.inline.is_some();
    super::super::uploads::file_response(&seen.staff.visit.state, &seen.dossier.id, &file, inline)
}

/// What a staff member with `rights` reads of `candidature` as one PDF:
/// what was sent, as far as their roles read it (sections, pieces, third
/// parties' letters), with the values transitions gave.
pub(super) fn staff_printed(
    state: &crate::web::state::AppState,
    rights: &crate::staff_store::Rights,
    (definition, dossier, candidature): (&Definition, &Dossier, &Candidature),
    lang: Lang,
) -> guichet_pdf::Printed {
    let facts = values_given(definition, candidature, lang)
        .into_iter()
        .map(|a| (a.label, a.value))
        .collect();
    let profile = dossier.answers_of(&candidature.id);
    let sections_read = |id: &str| rights.reads_section(definition, id);
    let pieces_read = |id: &str| rights.reads_piece(definition, id);
    let mut sections = crate::web::dossier_pdf::sections(definition, profile, &sections_read, lang);
    sections.extend(crate::web::dossier_pdf::form_section(
        definition,
        candidature,
        &pieces_read,
        lang,
    ));
    let source = crate::web::dossier_pdf::Source {
        definition,
        dossier,
        candidature,
        pieces: pieces_of(candidature),
        reads_piece: &pieces_read,
        letters: true,
        facts,
        lang,
    };
    crate::web::dossier_pdf::printed(state, &source, sections)
}

/// `GET /staff/candidatures/{dossier}/{candidature}/courrier/{letter}`: a
/// letter issued to the candidature, as the candidate received it.
pub async fn issued_letter(
    seen: SeenCandidature,
    Path(at): Path<Vec<(String, String)>>,
) -> PageResult {
    let letter = at
        .iter()
        .find(|(k, _)| k == "letter")
        .map(|(_, v)| v.as_str())
        .ok_or(PageError::NotFound)?;
    crate::web::dossier_pdf::letter(&seen.dossier, seen.candidature()?, letter).await
}

/// `GET /staff/candidatures/{dossier}/{candidature}/dossier.pdf`: what was
/// sent, as one PDF, as far as the member's roles read it.
pub async fn pdf(seen: SeenCandidature) -> PageResult {
    let lang = seen.staff.visit.lang;
    let candidature = seen.candidature()?.clone();
    let name = crate::web::dossier_pdf::file_name(&seen.dossier, &candidature);
    let rights = seen.staff.member.rights.clone();
    let (state, dossier, definition) = (
        Arc::clone(&seen.staff.visit.state),
        seen.dossier.clone(),
        Arc::clone(&seen.definition),
    );
    let turns = Arc::clone(&state);
    crate::web::dossier_pdf::respond(&turns, name, move || {
        staff_printed(&state, &rights, (&definition, &dossier, &candidature), lang)
    })
    .await
}
