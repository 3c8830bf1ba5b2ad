//! Applying, a candidature's page (its pieces and what the candidate may do),
//! and the candidate's transitions and piece actions.
//!
//! Every action is a command to the engine, which decides whether it holds;
//! the page offers what the engine's `actions_for` says the candidate may do.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use guichet_engine::{
    actions_for, actions_in, Actions, Actor, Candidature, Command, Definition, Dossier,
    EngineError, Letter, Outcome, Request,
};
use jiff::Timestamp;
use serde::Serialize;

use super::dossier_pdf;
use super::error::{blocking, PageError, PageResult};
use super::extract::{CsrfForm, OwnDossier};
use super::forms::Confirmation;
use super::pieces::{
    ActionLink, LetterLine, Letters, PieceAction, PieceLine, PieceWords, PiecesPage, Upload,
};
use super::site::Lang;
use super::words::refusal;

/// `GET /formations/{id}/candidater`: the confirmation step.
pub async fn apply_form(own: OwnDossier, Path(id): Path<String>) -> PageResult {
    let visit = &own.visit;
    let (definition, lang) = (visit.state.engine.definition(), visit.lang);
    let formation = definition.formation(&id).ok_or(PageError::NotFound)?;
    let title = formation.title.get(lang.code());
    let page = Confirmation {
        heading: format!("{} {title}", lang.t("apply_to")),
        text: lang.t("apply_text"),
        action: lang.href(&format!("/formations/{id}/candidater")),
        button: lang.t("apply_confirm"),
        back: lang.href(&format!("/formations/{id}")),
    };
    Ok(page.render(visit))
}

/// `POST /formations/{id}/candidater`
pub async fn apply(own: OwnDossier, Path(id): Path<String>, _: CsrfForm) -> PageResult {
    let command = Command::Apply { formation: id };
    let OwnDossier {
        visit,
        account,
        dossier,
        ..
    } = own;
    let (worker, lang) = (Arc::clone(&visit.state), visit.lang);
    let result = blocking(move || worker.run_as_candidate(&account.id, &dossier, command)).await?;
    Ok(match result {
        Ok(outcome) => {
            let candidature = outcome
                .dossier
                .candidatures
                .last()
                .map_or(String::new(), |c| c.id.clone());
            Redirect::to(&lang.href(&format!("/candidatures/{candidature}"))).into_response()
        }
        Err(error) => {
            let page = super::error::MessagePage {
                heading: lang.t("refused_title"),
                message: refusal(&own.definition, lang.code(), &error),
                link: None,
            };
            visit.render("message.html", StatusCode::CONFLICT, &page)
        }
    })
}

/// The letters of `piece` on `candidature`, for its candidate's page.
fn letters_of<'d>(
    lang: Lang,
    definition: &'d Definition,
    dossier: &Dossier,
    candidature: &guichet_engine::Candidature,
    piece: &str,
    now: Timestamp,
) -> Option<Letters<'d>> {
    let role = definition.provider_of(piece)?;
    let day = |at: Timestamp| definition.day_of(at);
    let named: Vec<Letter> = guichet_engine::letters(definition, dossier, candidature)
        .into_iter()
        .filter(|l| l.piece == piece)
        .collect();
    let open = definition.initial_state() == candidature.state;
    let ask = (open && named.iter().any(|l| l.to_ask(now))).then_some(role.id.as_str());
    let section = role.named_in.as_ref().map(|n| n.section.as_str());
    let name_them = section
        .filter(|_| named.is_empty())
        .and_then(|id| definition.file().profile.iter().find(|s| s.id == id))
        .map(|s| (s.id.as_str(), s.title.get(lang.code())));
    let people = named
        .iter()
        .map(|letter| {
            let state = match letter.request {
                Some(Request {
                    received_at: Some(at),
                    ..
                }) => lang.t("letter_received").replace("{date}", &day(*at)),
                Some(r) if r.expires_at > now => lang
                    .t("letter_asked")
                    .replace("{date}", &day(r.asked_at))
                    .replace("{until}", &day(r.expires_at)),
                Some(r) => lang
                    .t("letter_expired")
                    .replace("{date}", &day(r.expires_at)),
                None => lang.t("letter_not_asked"),
            };
            LetterLine {
                name: letter.name.clone(),
                email: letter.email.clone(),
                state,
            }
        })
        .collect();
    Some(Letters {
        people,
        ask,
        name_them,
    })
}

#[derive(Serialize)]
struct Summary<'a> {
    formation: String,
    state: &'a str,
}

#[derive(Serialize)]
struct CandidaturePage<'a> {
    candidature: Summary<'a>,
    /// The candidature as one PDF.
    pdf: String,
    /// The letters issued to it (a decision's).
    letters: Vec<dossier_pdf::LetterLink>,
    /// Its pieces, written as HTML with the page's token.
    pieces_html: minijinja::Value,
    transitions: Vec<ActionLink<'a>>,
    missing: bool,
    error: Option<String>,
}

/// What the signed-in candidate may do on `candidature` now.
pub fn candidate_actions<'d>(
    own: &'d OwnDossier,
    candidature: &Candidature,
) -> Result<Actions<'d>, PageError> {
    let (definition, dossier) = (own.definition.as_ref(), &own.dossier);
    let now = own.visit.state.clock.now();
    actions_for(definition, dossier, candidature, &candidate(own), now).map_err(PageError::internal)
}

/// [`candidate_actions`] from the candidature's context, made already.
fn candidate_actions_in<'d>(
    own: &'d OwnDossier,
    candidature: &Candidature,
    context: &serde_json::Value,
) -> Result<Actions<'d>, PageError> {
    let (definition, dossier) = (own.definition.as_ref(), &own.dossier);
    actions_in(definition, dossier, candidature, &candidate(own), context)
        .map_err(PageError::internal)
}

/// The signed-in candidate, as the workflow knows them.
fn candidate(own: &OwnDossier) -> Actor {
    Actor::new(own.definition.candidate_role(), &own.account.id)
}

/// The candidature page, with an optional message (a refused upload or action).
pub fn render_candidature(own: &OwnDossier, id: &str, error: Option<String>) -> PageResult {
    let (visit, lang) = (&own.visit, own.visit.lang);
    let (dossier, definition) = (&own.dossier, own.definition.as_ref());
    let candidature = own.candidature(id)?;
    let now = visit.state.clock.now();
    let role = definition.candidate_role();
    let acting = guichet_engine::acting_view(definition, dossier, candidature, role, now)
        .map_err(PageError::internal)?;
    let actions = candidate_actions_in(own, candidature, &acting.context)?;
    let code = lang.code();
    let pieces: Vec<PieceLine> = acting
        .pieces
        .iter()
        .map(|view| {
            let (piece_id, piece) = (view.id, view.piece);
            let upload = actions.upload(piece_id).map(|a| Upload {
                label: a.label.get(code),
                formats: &piece.accept,
                max_size: definition.max_size(piece_id).unwrap_or(0),
            });
            let others = actions
                .piece(piece_id)
                .iter()
                .filter(|a| a.allowed && !a.attaches_file);
            let state = view.state;
            PieceLine {
                id: piece_id,
                label: piece.label.get(code),
                help: piece.help.as_ref().map(|h| h.get(code)),
                required: view.required,
                status: view.status_def.map_or("", |s| s.label.get(code)),
                comment: state.and_then(|s| s.comment.as_deref()),
                file: state.and_then(|s| s.file.as_ref()).map(|f| f.name.as_str()),
                upload,
                actions: others
                    .map(|a| PieceAction {
                        id: a.id,
                        label: a.label.get(code),
                    })
                    .collect(),
                letters: letters_of(lang, definition, dossier, candidature, piece_id, now),
                form: definition
                    .online_form_for(&candidature.formation, piece_id)
                    .map(|_| view.provided),
                external: definition
                    .form_of(&candidature.formation)
                    .filter(|f| f.piece.as_deref() == Some(piece_id))
                    .and_then(|f| f.url.as_deref())
                    .map(|url| url.replace("{dossier}", &dossier.id)),
            }
        })
        .collect();
    let transitions = actions
        .transitions
        .iter()
        .map(|a| ActionLink {
            url: lang.href(&format!("/candidatures/{id}/{}", a.id)),
            label: a.label.get(code),
        })
        .collect();
    let formation = definition
        .formation(&candidature.formation)
        .map_or(candidature.formation.clone(), |f| {
            f.title.get(code).to_owned()
        });
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = |csrf: &str| CandidaturePage {
        pdf: lang.href(&format!("/candidatures/{id}/dossier.pdf")),
        letters: dossier_pdf::letter_links(candidature, &format!("/candidatures/{id}"), lang),
        candidature: Summary {
            formation,
            state: definition.state_label(&candidature.state, code),
        },
        pieces_html: PiecesPage {
            words: PieceWords::in_language(lang),
            lang,
            candidature: id,
            csrf,
        }
        .html(&pieces),
        transitions,
        missing: !actions.missing_pieces.is_empty(),
        error,
    };
    Ok(visit.render_form_with("candidature.html", status, page))
}

/// `GET /candidatures/{id}`
pub async fn candidature(own: OwnDossier, Path(id): Path<String>) -> PageResult {
    render_candidature(&own, &id, None)
}

/// `GET /candidatures/{id}/{transition}`: the confirmation step of a transition.
pub async fn transition_form(own: OwnDossier, Path(at): Path<(String, String)>) -> PageResult {
    let (id, transition) = at;
    let lang = own.visit.lang;
    let candidature = own.candidature(&id)?;
    let actions = candidate_actions(&own, candidature)?;
    // A transition not offered from where the candidature stands (an old
    // link, another tab): the candidature page says where it stands.
    let Some(action) = actions.transition(&transition) else {
        let back = lang.href(&format!("/candidatures/{id}"));
        return Ok(Redirect::to(&back).into_response());
    };
    let label = action.label.get(lang.code()).to_owned();
    let page = Confirmation {
        heading: label.clone(),
        text: lang.t("confirm_text"),
        action: lang.href(&format!("/candidatures/{id}/{transition}")),
        button: label,
        back: lang.href(&format!("/candidatures/{id}")),
    };
    Ok(page.render(&own.visit))
}

/// `POST /candidatures/{id}/{transition}`
pub async fn perform(own: OwnDossier, Path(at): Path<(String, String)>, _: CsrfForm) -> PageResult {
    let (id, transition) = at;
    let command = Command::Transition {
        candidature: id.clone(),
        transition,
        input: Default::default(),
    };
    act(own, &id, command).await
}

/// `POST /candidatures/{id}/pieces/{piece}/{transition}`: not concerned, remove…
pub async fn piece_action(own: OwnDossier, Path(at): Path<[String; 3]>, _: CsrfForm) -> PageResult {
    let [id, piece, transition] = at;
    let command = Command::Piece {
        candidature: id.clone(),
        piece,
        transition,
        file: None,
        comment: None,
    };
    act(own, &id, command).await
}

/// Performs a candidate's command on their candidature `id`: back to its
/// page, or the page with the refusal in words if the engine refuses.
pub async fn act(own: OwnDossier, id: &str, command: Command) -> PageResult {
    own.candidature(id)?;
    let worker = Arc::clone(&own.visit.state);
    let (account, dossier) = (own.account.id.clone(), own.dossier.clone());
    let result = blocking(move || worker.run_as_candidate(&account, &dossier, command)).await?;
    answer(own, id, result)
}

/// After a candidate's command: back to the candidature, or its page with
/// the refusal in words.
pub fn answer(own: OwnDossier, id: &str, result: Result<Outcome, EngineError>) -> PageResult {
    let lang = own.visit.lang;
    match result {
        Ok(_) => Ok(Redirect::to(&lang.href(&format!("/candidatures/{id}"))).into_response()),
        Err(error) => render_candidature(
            &own,
            id,
            Some(refusal(&own.definition, lang.code(), &error)),
        ),
    }
}

/// `GET /candidatures/{id}/courrier/{letter}`: a letter issued to the
/// candidature, as PDF.
pub async fn letter(own: OwnDossier, Path((id, letter)): Path<(String, String)>) -> PageResult {
    let candidature = own.candidature(&id)?;
    dossier_pdf::letter(&own.dossier, candidature, &letter).await
}

/// `GET /candidatures/{id}/dossier.pdf`: the candidature as one PDF, as it
/// stands, with the candidate's own pieces (never a third party's letter).
pub async fn pdf(own: OwnDossier, Path(id): Path<String>) -> PageResult {
    // Made anew at each request, the PDF costs what a change costs: it is
    // counted as one, so that no script keeps the processors busy with it.
    own.visit
        .state
        .writes
        .spend(&own.account.id)
        .map_err(PageError::WritesPaused)?;
    let candidature = own.candidature(&id)?.clone();
    let name = dossier_pdf::file_name(&own.dossier, &candidature);
    let (state, dossier, definition) = (
        Arc::clone(&own.visit.state),
        own.dossier.clone(),
        Arc::clone(&own.definition),
    );
    let lang = own.visit.lang;
    let turns = Arc::clone(&state);
    dossier_pdf::respond(&turns, name, move || {
        let everything = |_: &str| true;
        let mut sections = dossier_pdf::sections(&definition, &dossier.profile, &everything, lang);
        sections.extend(dossier_pdf::form_section(
            &definition,
            &candidature,
            &everything,
            lang,
        ));
        let source = dossier_pdf::Source {
            definition: &definition,
            dossier: &dossier,
            candidature: &candidature,
            pieces: &candidature.pieces,
            reads_piece: &everything,
            letters: false,
            facts: Vec::new(),
            lang,
        };
        dossier_pdf::printed(&state, &source, sections)
    })
    .await
}
