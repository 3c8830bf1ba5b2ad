//! Words of the pages themselves; the procedure's words come from its definition.

use std::collections::HashMap;
use std::sync::OnceLock;

use guichet_engine::model::FileFormat;
use guichet_engine::{Definition, EngineError, ThirdPartyRefusal, WorkflowError};
use serde_json::{Map, Value};

use crate::files::FileProblem;

/// Each key with its French and English words.
const WORDS: &[(&str, &str, &str)] = &[
    ("skip", "Aller au contenu", "Skip to content"),
    ("language", "Langue", "Language"),
    ("home", "Page d'accueil", "Home page"),
    ("footer", "Candidatures en ligne", "Online applications"),
    ("campaign", "Période de candidature", "Application period"),
    ("campaign_from", "Du", "From"),
    ("campaign_to", "au", "to"),
    ("campaign_open", "Les candidatures sont ouvertes.", "Applications are open."),
    ("campaign_closed", "Les candidatures sont fermées.", "Applications are closed."),
    ("catalogue", "Formations", "Programmes"),
    ("campaign_not_yet", "Les candidatures ouvrent le {date}.", "Applications open on {date}."),
    ("campaign_over", "Les candidatures étaient ouvertes jusqu'au {date}.", "Applications were open until {date}."),
    ("not_found", "Page introuvable", "Page not found"),
    ("not_found_text", "Cette adresse ne mène à aucune page.", "This address does not lead to any page."),
    ("errors_title", "Il y a un problème", "There is a problem"),
    ("sign_up", "Créer un compte", "Create an account"),
    ("sign_up_intro", "Indiquez vos nom, prénom et une adresse électronique : nous vous envoyons un lien pour activer le compte.", "Give your names and an email address: we send you a link to activate the account."),
    ("sign_up_button", "Créer mon compte", "Create my account"),
    ("sign_in", "Se connecter", "Sign in"),
    ("sign_in_button", "Se connecter", "Sign in"),
    ("sign_out", "Se déconnecter", "Sign out"),
    ("forgot", "Mot de passe oublié", "Forgotten password"),
    ("forgot_intro", "Indiquez votre identifiant (votre adresse électronique) : nous vous envoyons un lien pour choisir un nouveau mot de passe.", "Give your identifier (your email address): we send you a link to choose a new password."),
    ("forgot_button", "Recevoir un lien", "Send me a link"),
    ("last_name", "Nom", "Last name"),
    ("first_name", "Prénom", "First name"),
    ("email", "Adresse électronique", "Email address"),
    ("identifier", "Identifiant (adresse électronique)", "Identifier (email address)"),
    ("password", "Mot de passe", "Password"),
    ("password_help", "Au moins 10 caractères, mêlant lettres, chiffres ou symboles ; ni votre nom ni votre adresse.", "At least 10 characters, mixing letters, digits or symbols; not your name or address."),
    ("password_confirm", "Mot de passe, à nouveau", "Password again"),
    ("choose_password", "Choisissez votre mot de passe", "Choose your password"),
    ("choose_password_button", "Enregistrer mon mot de passe", "Save my password"),
    ("new_password", "Choisissez un nouveau mot de passe", "Choose a new password"),
    ("required", "Ce champ est obligatoire.", "This field is required."),
    ("name_invalid", "Saisissez au plus 100 caractères, sur une seule ligne.", "Enter at most 100 characters, on one line."),
    ("email_invalid", "Saisissez une adresse électronique comme nom@exemple.fr.", "Enter an email address like name@example.org."),
    ("password_short", "Votre mot de passe doit compter au moins 10 caractères.", "Your password needs at least 10 characters."),
    ("password_weak", "Mêlez au moins trois sortes de caractères : minuscules, majuscules, chiffres, symboles (ou utilisez 16 caractères ou plus).", "Mix at least three kinds of characters: lowercase, capitals, digits, symbols (or use 16 characters or more)."),
    ("password_personal", "Votre mot de passe ne doit contenir ni votre nom ni votre adresse électronique.", "Your password must not contain your name or your email address."),
    ("password_mismatch", "Les deux mots de passe sont différents.", "The two passwords differ."),
    ("sent_title", "Consultez votre messagerie", "Check your mailbox"),
    ("sent_text", "Si l'adresse peut être utilisée, un courriel contenant un lien vient d'y être envoyé. Le lien ne sert qu'une fois et pour une durée limitée.", "If the address can be used, a message has been sent to it with a link. The link works once and for a limited time."),
    ("link_used", "Ce lien a déjà été utilisé", "This link has already been used"),
    ("link_expired", "Ce lien a expiré", "This link has expired"),
    ("link_unknown", "Ce lien n'est pas valide", "This link is not valid"),
    ("link_help", "Les liens ne servent qu'une fois et pour une durée limitée. Demandez-en un nouveau :", "Links work once and for a limited time. Ask for a new one:"),
    ("new_link", "Recevoir un nouveau lien", "Get a new link"),
    ("activated_title", "Votre compte est activé", "Your account is activated"),
    ("password_changed", "Votre mot de passe a été changé", "Your password has been changed"),
    ("signed_out", "Vous êtes déconnecté", "You are signed out"),
    ("wrong_credentials", "L'identifiant ou le mot de passe est incorrect.", "The identifier or the password is wrong."),
    ("throttled_title", "Trop de tentatives", "Too many attempts"),
    ("throttled_text", "Trop de tentatives en peu de temps. Patientez une minute, puis réessayez.", "Too many attempts in a short time. Wait one minute, then try again."),
    ("slowed_text", "Trop de tentatives pour ce compte. Patientez un peu ({seconds} s), puis réessayez.", "Too many attempts for this account. Wait a little ({seconds} s), then try again."),
    ("writes_paused", "Trop d'enregistrements en peu de temps. Patientez un peu ({seconds} s), puis réessayez.", "Too many changes in a short time. Wait a little ({seconds} s), then try again."),
    ("csrf_title", "Ce formulaire a expiré", "This form has expired"),
    ("csrf_text", "Pour votre sécurité, le formulaire a expiré. Revenez en arrière, rechargez la page et envoyez-le de nouveau.", "For your security, the form has expired. Go back, reload the page and send it again."),
    ("dashboard", "Mes candidatures", "My applications"),
    ("identity", "Mon compte", "My account"),
    ("change_email", "Changer mon adresse électronique", "Change my email address"),
    ("change_email_intro", "Nous envoyons un lien à la nouvelle adresse ; le changement est fait quand vous le suivez.", "We send a link to the new address; the change is made once you follow it."),
    ("change_email_button", "Envoyer le lien", "Send the link"),
    ("new_email", "Nouvelle adresse électronique", "New email address"),
    ("email_changed", "Votre adresse électronique a été changée", "Your email address has been changed"),
    ("current_password", "Mot de passe actuel", "Current password"),
    ("wrong_password", "Ce n'est pas le mot de passe de votre compte.", "This is not your account's password."),
    ("email_reverted", "Votre adresse électronique a été rétablie", "Your email address is back"),
    ("email_reverted_text", "Toutes les sessions de votre compte sont fermées. Choisissez un nouveau mot de passe :", "Every session of your account is closed. Choose a new password:"),
    ("email_taken", "Cette adresse ne peut pas être utilisée.", "This address cannot be used."),
    ("your_dossier", "Mon dossier", "My dossier"),
    ("complete", "rubrique complète", "complete"),
    ("to_fill", "à compléter", "to fill in"),
    ("candidatures", "Mes candidatures", "My applications"),
    ("no_candidature", "Aucune candidature pour l'instant.", "No application yet."),
    ("sign_in_needed", "Connectez-vous", "Please sign in"),
    ("sign_in_needed_text", "Connectez-vous pour voir cette page.", "Sign in to see this page."),
    ("back_to_dashboard", "Retour à mes candidatures", "Back to my applications"),
    ("required_note", "Les champs marqués d'un astérisque (*) sont obligatoires.", "Fields marked with an asterisk (*) are required."),
    ("choose", "— Choisir —", "— Choose —"),
    ("save", "Enregistrer", "Save"),
    ("edit", "Modifier", "Edit"),
    ("remove", "Supprimer", "Remove"),
    ("actions", "Actions", "Actions"),
    ("entries_full", "Cette rubrique compte le nombre maximal d'entrées ({max}) : supprimez-en une pour en ajouter une autre.", "This section holds as many entries as it takes ({max}): remove one to add another."),
    ("no_entry", "Aucune entrée pour l'instant.", "No entry yet."),
    ("import_contact", "Une erreur ? Contactez :", "An error? Contact:"),
    ("search_label", "Rechercher une formation (mot-clé)", "Search a programme (keyword)"),
    ("search", "Rechercher", "Search"),
    ("composante", "Composante", "Faculty"),
    ("all_composantes", "Toutes les composantes", "All faculties"),
    ("results", "formation(s)", "programme(s)"),
    ("back_to_catalogue", "Retour aux formations", "Back to the programmes"),
    ("pieces_to_provide", "Pièces à fournir", "Documents to provide"),
    ("complementary_form", "Formulaire complémentaire :", "Complementary form:"),
    ("apply", "Candidater", "Apply"),
    ("apply_to", "Candidater à", "Apply to"),
    ("apply_text", "Votre candidature sera créée ; vous pourrez ensuite déposer les pièces demandées puis la transmettre.", "Your application will be created; you can then upload the documents asked for and send it."),
    ("apply_confirm", "Confirmer ma candidature", "Confirm my application"),
    ("cancel", "Annuler", "Cancel"),
    ("confirm_text", "Confirmez-vous ? Après transmission, votre dossier ne peut plus être modifié, sauf demande de la scolarité.", "Do you confirm? Once sent, your dossier can no longer be changed unless the admissions office asks."),
    ("status", "Statut", "Status"),
    ("download", "Télécharger", "Download"),
    ("choose_file", "Fichier", "File"),
    ("next_steps", "Et ensuite", "Next"),
    ("missing_pieces", "Déposez toutes les pièces obligatoires (*) ou déclarez-vous non concerné pour pouvoir transmettre.", "Upload every required document (*) or declare yourself not concerned before sending."),
    ("all_pieces_in", "Toutes les pièces sont déposées : vous pouvez transmettre votre candidature.", "Every document is in: you can send your application."),
    ("refused_title", "Action impossible", "Not possible"),
    ("refused_closed", "La campagne de candidature n'est pas ouverte.", "Applications are not open."),
    ("refused_twice", "Vous avez déjà une candidature à cette formation.", "You already applied to this programme."),
    ("refused_cap", "Vous avez atteint le nombre maximal de candidatures", "You reached the largest number of applications"),
    ("refused_conflict", "Votre dossier a changé entre-temps : rechargez la page et recommencez.", "Your dossier changed meanwhile: reload the page and try again."),
    ("refused_now", "Cette action n'est pas possible pour le moment.", "This is not possible now."),
    ("upload_broken", "L'envoi du fichier a été interrompu. Réessayez.", "The upload was interrupted. Try again."),
    ("file_too_large", "Le fichier est trop volumineux : la taille maximale est de", "The file is too large: the largest size is"),
    ("file_missing", "Choisissez un fichier à déposer.", "Choose a file to upload."),
    ("file_empty", "Le fichier est vide.", "The file is empty."),
    ("file_damaged", "Le fichier est incomplet ou endommagé : enregistrez-le de nouveau puis déposez-le.", "The file is incomplete or damaged: save it again, then upload it."),
    ("file_format", "Ce fichier n'est pas au format demandé (PDF, JPG ou PNG selon la pièce), quel que soit son nom.", "This file is not in the format asked for (PDF, JPG or PNG depending on the document), whatever its name."),
    ("file_encrypted", "Le PDF est protégé par un mot de passe : enregistrez-en une copie sans protection, puis déposez-la.", "The PDF is protected by a password: save a copy without protection, then upload it."),
    ("file_pages", "Le PDF doit avoir entre 1 et {max} pages.", "The PDF must have between 1 and {max} pages."),
    ("file_pixels", "L'image est trop grande : réduisez-la à {max} mégapixels au plus, puis déposez-la de nouveau.", "The image is too large: reduce it to {max} megapixels at most, then upload it again."),
    ("next_step", "À faire :", "To do:"),
    ("history", "Historique", "History"),
    ("no_history", "Rien pour l'instant.", "Nothing yet."),
    ("whole_history", "Tout l'historique", "The whole history"),
    ("history_of_dossier", "Historique de votre dossier", "Your dossier's history"),
    ("older_events", "Événements plus anciens", "Older events"),
    ("newest_events", "Les événements les plus récents", "The latest events"),
    ("next_pieces", "déposer les pièces manquantes, puis transmettre", "upload the missing documents, then send"),
    ("next_wait", "rien de votre part : la scolarité traite votre dossier", "nothing on your side: the admissions office handles your dossier"),
    ("event_created", "Dossier créé", "Dossier created"),
    ("event_section", "Rubrique enregistrée :", "Section saved:"),
    ("event_applied", "Candidature créée :", "Application created:"),
    ("event_identity", "Adresse électronique changée", "Email address changed"),
    ("event_deadline", "Échéance :", "Deadline:"),
    ("event_note", "Note interne modifiée", "Internal note changed"),
    ("pdf_candidate", "Candidat", "Candidate"),
    ("pdf_formation", "Formation", "Programme"),
    ("pdf_dossier", "Dossier / candidature", "Dossier / application"),
    ("pdf_sent", "Transmis le", "Sent on"),
    ("pdf_pieces", "Pièces", "Documents"),
    ("pdf_download", "Télécharger le dossier en PDF", "Download the dossier as PDF"),
    ("preview_mails", "Courriels", "Mails"),
    ("preview_asked", "Ce que les candidats rempliront et déposeront", "What candidates will fill in and upload"),
    ("preview_sections", "Rubriques du dossier (* obligatoire)", "Dossier sections (* required)"),
    ("preview_formations", "Pièces demandées, par formation", "Documents asked, by programme"),
    ("preview_conditional", "selon les réponses", "depending on the answers"),
    ("preview_may_decline", "peut être déclarée non concernée", "may be declared not concerned"),
    ("preview_form", "Formulaire complémentaire :", "Complementary form:"),
    ("preview_online", "répondu en ligne", "answered online"),
    ("preview_title", "Aperçu de la définition", "Preview of the definition"),
    ("preview_help", "Relu à chaque visite : modifiez le fichier, rechargez la page.", "Read again at each visit: edit the file, reload the page."),
    ("preview_mails_help", "Chaque courriel tel que les scénarios de la définition le produisent, avec leurs données d'exemple.", "Each mail as the definition's scenarios produce it, with their sample data."),
    ("preview_mail_to", "À :", "To:"),
    ("preview_candidate_pages", "Les pages d'un candidat d'exemple (ouvertes dans un nouvel onglet)", "The pages of a sample candidate (opened in a new tab)"),
    ("preview_page_candidature", "Candidature", "Application"),
    ("preview_page_dashboard", "Tableau de bord, une candidature faite", "Dashboard, with an application made"),
    ("preview_page_formation", "Formation", "Programme"),
    ("preview_page_section", "Rubrique", "Section"),
    ("preview_page_entry", "Rubrique, une entrée", "Section, one entry"),
    ("preview_banner", "Aperçu : les réponses sont celles d'un candidat d'exemple ; les formulaires et les liens de cette page ne mènent nulle part.", "Preview: the answers are a sample candidate's; this page's forms and links lead nowhere."),
    ("preview_elsewhere", "L'aperçu ne sert que les pages de sa liste : les formulaires et les liens des pages montrées ne mènent nulle part.", "The preview serves only the pages of its list: the forms and links of the pages shown lead nowhere."),
    ("preview_mail_scenario", "scénario", "scenario"),
    ("preview_letter", "Lettre jointe :", "Letter attached:"),
    ("preview_mails_never", "Aucun scénario n'envoie :", "No scenario sends:"),
    ("letters_issued", "Courriers", "Letters"),
    ("letter_of", "PDF du", "PDF of"),
    ("pdf_not_included", "La pièce « {piece} » n'a pas pu être incluse : {reason}. Elle reste consultable à part.", "The document « {piece} » could not be included: {reason}. It can still be opened on its own."),
    ("pdf_encrypted", "elle est protégée par un mot de passe", "it is protected by a password"),
    ("pdf_damaged", "elle est endommagée", "it is damaged"),
    ("pdf_no_page", "elle n'a aucune page", "it has no page"),
    ("procedures", "Candidatures en ligne", "Online applications"),
    ("back_to_candidature", "Retour à la candidature", "Back to the application"),
    ("form_complete", "Formulaire complet", "Form complete"),
    ("form_incomplete", "Formulaire à compléter", "Form to complete"),
    ("form_fill", "Répondre au formulaire", "Answer the form"),
    ("form_external", "Ouvrir le questionnaire (puis déposez vos réponses ici)", "Open the questionnaire (then upload your answers here)"),
    ("event_form", "Formulaire complémentaire enregistré", "Complementary form saved"),
    ("event_migrated", "Dossier passé à une nouvelle version de la procédure", "Dossier moved to a new version of the procedure"),
    ("event_asked", "Demande envoyée :", "Request sent:"),
    ("letter_received", "Reçue le {date}", "Received on {date}"),
    ("letter_asked", "Demandée le {date} ; le lien fonctionne jusqu'au {until}", "Asked on {date}; the link works until {until}"),
    ("letter_expired", "Sans réponse : le lien a expiré le {date}", "No answer: the link expired on {date}"),
    ("letter_not_asked", "Pas encore demandée", "Not asked yet"),
    ("letters_ask", "Envoyer les demandes", "Send the requests"),
    ("letters_ask_help", "Chaque personne reçoit par courriel un lien à usage unique pour envoyer son document. Vous voyez quand il est arrivé, jamais son contenu.", "Each person receives by email a single-use link to send their document. You see when it has arrived, never what it says."),
    ("letters_name_them", "Indiquez d'abord ces personnes dans la rubrique", "First name these people in the section"),
    ("letters_too_many", "Le nombre de demandes pour cette candidature est atteint : contactez le service des candidatures.", "This application has sent as many requests as it may: contact the admissions office."),
    ("letters_nobody", "Toutes les personnes indiquées ont déjà été sollicitées.", "Everyone named has already been asked."),
    ("tp_title", "Envoyer un document", "Send a document"),
    ("tp_intro", "{candidate} vous a indiqué(e) pour sa candidature à « {formation} ». Le document attendu :", "{candidate} named you for their application to « {formation} ». The document expected:"),
    ("tp_greeting", "Bonjour", "Hello"),
    ("tp_until", "Ce lien fonctionne une seule fois, jusqu'au {date}. Il ne donne accès à rien d'autre.", "This link works once, until {date}. It gives access to nothing else."),
    ("tp_send", "Envoyer le document", "Send the document"),
    ("tp_done", "Merci : votre document a été reçu le {date}. Ce lien ne sert plus.", "Thank you: your document was received on {date}. This link is no longer needed."),
    ("tp_expired", "Ce lien a expiré le {date}. Le candidat peut vous en envoyer un nouveau.", "This link expired on {date}. The candidate can send you a new one."),
    ("tp_expired_now", "Ce lien a expiré. Le candidat peut vous en envoyer un nouveau.", "This link has expired. The candidate can send you a new one."),
    ("tp_closed", "Cette candidature a été déposée : elle ne reçoit plus de document.", "This application has been submitted: it no longer takes documents."),
    ("tp_unknown", "Ce lien n'est pas (ou plus) valide.", "This link is not (or no longer) valid."),
    ("tp_used", "Ce lien a déjà servi : le document a été reçu.", "This link was already used: the document was received."),
    ("event_delivered", "Pièce reçue d'un tiers :", "Piece received from a third party:"),
    ("field_comment", "Commentaire", "Comment"),
    ("field_note", "Note interne", "Internal note"),
    ("narrow_list", "Filtrer la liste", "Narrow the list"),
    ("yes", "Oui", "Yes"),
    ("no", "Non", "No"),
    ("internal_error", "Une erreur est survenue", "Something went wrong"),
    ("internal_error_text", "Le serveur n'a pas pu répondre. Réessayez dans un instant ; si le problème continue, prévenez la scolarité.", "The server could not answer. Try again in a moment; if the problem persists, tell the admissions office."),
];

/// The page words in `lang` (`fr` or `en`), by key, for templates.
pub fn all(lang: &str) -> Value {
    let words: Map<String, Value> = table()
        .map(|(key, fr, en)| {
            let text = if lang == "en" { en } else { fr };
            ((*key).to_owned(), Value::String((*text).to_owned()))
        })
        .collect();
    Value::Object(words)
}

/// Every page word: the candidates' pages' and the staff's.
fn table() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    WORDS.iter().chain(super::staff::words::WORDS)
}

/// What is wrong with the words a definition overrides: keys the pages do
/// not have, each with its line in the definition and the nearest key.
pub fn unknown_overrides(definition: &Definition) -> Vec<String> {
    let keys: Vec<&str> = table().map(|(key, _, _)| *key).collect();
    let mut problems = Vec::new();
    for (lang, words) in &definition.file().words {
        for key in words.keys().filter(|k| !keys.contains(&k.as_str())) {
            let line = definition.line_of(&format!("/words/{lang}/{key}"));
            let nearest = guichet_engine::did_you_mean(key, keys.iter().copied())
                .map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            problems.push(format!(
                "line {line}: the pages have no word `{key}`{nearest}"
            ));
        }
    }
    problems
}

/// One page word in `lang` (the key itself if it is missing).
pub fn t(lang: &str, key: &str) -> String {
    found(lang, key).unwrap_or(key).to_owned()
}

/// One page word in `lang`, if the key is known.
pub fn found(lang: &str, key: &str) -> Option<&'static str> {
    let (fr, en) = by_key().get(key)?;
    Some(if lang == "en" { en } else { fr })
}

/// Each key's French and English words, found by the key's hash: a page
/// asks for dozens, of three hundred.
fn by_key() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static BY_KEY: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    BY_KEY.get_or_init(|| table().map(|(key, fr, en)| (*key, (*fr, *en))).collect())
}

/// Why the engine refused a command, in words for whoever acted: a refused
/// value is named by its field's label in `definition`.
pub fn refusal(definition: &Definition, lang: &str, error: &EngineError) -> String {
    match error {
        EngineError::Workflow(WorkflowError::CampaignClosed) => t(lang, "refused_closed"),
        EngineError::Workflow(WorkflowError::AlreadyApplied { .. }) => t(lang, "refused_twice"),
        EngineError::Workflow(WorkflowError::TooManyCandidatures { max }) => {
            format!("{} ({max})", t(lang, "refused_cap"))
        }
        EngineError::Workflow(WorkflowError::GuardFailed {
            message: Some(text),
            ..
        }) => text.get(lang).to_owned(),
        EngineError::Workflow(WorkflowError::InvalidValue { field, problem }) => {
            // A staff comment or note has no label in the definition: the page's word.
            let key = format!("field_{field}");
            let word = Some(t(lang, &key)).filter(|word| *word != key);
            let label = definition
                .field_label(field, lang)
                .map(str::to_owned)
                .or(word)
                .unwrap_or_else(|| field.clone());
            format!("{label} : {}", problem.message(lang))
        }
        EngineError::Workflow(WorkflowError::ThirdParty(reason)) => t(
            lang,
            match reason {
                ThirdPartyRefusal::NobodyToAsk => "letters_nobody",
                ThirdPartyRefusal::Closed => "tp_closed",
                ThirdPartyRefusal::UnknownLink => "tp_unknown",
                ThirdPartyRefusal::Expired => "tp_expired_now",
                ThirdPartyRefusal::Used => "tp_used",
                ThirdPartyRefusal::TooMany => "letters_too_many",
            },
        ),
        error if error.is_conflict() => t(lang, "refused_conflict"),
        _ => t(lang, "refused_now"),
    }
}

/// What is wrong with an uploaded file, in words for the candidate.
pub fn file_problem(lang: &str, problem: FileProblem) -> String {
    let key = match problem {
        FileProblem::Empty => "file_empty",
        FileProblem::Damaged => "file_damaged",
        FileProblem::UnknownFormat => "file_format",
        FileProblem::Encrypted => "file_encrypted",
        FileProblem::Pages => {
            let max = guichet_pdf::MAX_PAGES;
            return t(lang, "file_pages").replace("{max}", &max.to_string());
        }
        FileProblem::TooManyPixels => {
            let max = crate::files::MAX_PIXELS / 1_000_000;
            return t(lang, "file_pixels").replace("{max}", &max.to_string());
        }
    };
    t(lang, key)
}

/// One property of each format, joined: `PDF, JPG`.
pub(super) fn joined(
    formats: &[FileFormat],
    property: fn(FileFormat) -> &'static str,
    separator: &'static str,
) -> String {
    Joined(formats, property, separator).to_string()
}

/// [`joined`], written where it is shown.
pub(super) struct Joined<'a>(
    pub &'a [FileFormat],
    pub fn(FileFormat) -> &'static str,
    pub &'static str,
);

impl std::fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Joined(formats, property, separator) = *self;
        for (at, format) in formats.iter().enumerate() {
            if at > 0 {
                f.write_str(separator)?;
            }
            f.write_str(property(*format))?;
        }
        Ok(())
    }
}

/// A size for people: `2 Mo`, `500 ko`.
pub fn human_size(bytes: u64) -> String {
    Size(bytes).to_string()
}

/// A size in bytes as people read it (see [`human_size`]), written where it
/// is shown.
pub struct Size(pub u64);

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = self.0;
        // Whole megabytes, the usual limit, without a float written: a
        // candidature page writes one per piece.
        if bytes >= 1_000_000 && bytes % 1_000_000 == 0 {
            write!(f, "{} Mo", bytes / 1_000_000)
        } else if bytes >= 1_000_000 {
            write!(f, "{} Mo", bytes as f64 / 1_000_000.0)
        } else {
            write!(f, "{} ko", bytes / 1000)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_written_in_megabytes_or_kilobytes() {
        assert_eq!(human_size(5_000_000), "5 Mo");
        assert_eq!(human_size(20_000_000), "20 Mo");
        assert_eq!(human_size(1_500_000), "1.5 Mo");
        assert_eq!(human_size(500_000), "500 ko");
    }

    #[test]
    fn every_key_is_given_once() {
        let mut keys: Vec<&str> = table().map(|(key, _, _)| *key).collect();
        keys.sort_unstable();
        let count = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), count);
        assert!(table().all(|(_, fr, en)| !fr.is_empty() && !en.is_empty()));
    }

    #[test]
    fn a_word_is_found_in_either_table_and_a_missing_one_is_its_key() {
        assert_eq!(t("en", "skip"), "Skip to content");
        assert_eq!(t("fr", "skip"), "Aller au contenu");
        let (key, fr, en) = crate::web::staff::words::WORDS[0];
        assert_eq!((t("fr", key), t("en", key)), (fr.to_owned(), en.to_owned()));
        assert_eq!(t("en", "no_such_word"), "no_such_word");
    }
}
