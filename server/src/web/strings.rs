//! Words of the pages themselves; the procedure's words come from its definition.

use serde_json::{Map, Value};

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
    ("csrf_title", "Ce formulaire a expiré", "This form has expired"),
    ("csrf_text", "Pour votre sécurité, le formulaire a expiré. Revenez en arrière, rechargez la page et envoyez-le de nouveau.", "For your security, the form has expired. Go back, reload the page and send it again."),
    ("dashboard", "Mes candidatures", "My applications"),
    ("identity", "Mon compte", "My account"),
    ("change_email", "Changer mon adresse électronique", "Change my email address"),
    ("change_email_intro", "Nous envoyons un lien à la nouvelle adresse ; le changement est fait quand vous le suivez.", "We send a link to the new address; the change is made once you follow it."),
    ("change_email_button", "Envoyer le lien", "Send the link"),
    ("new_email", "Nouvelle adresse électronique", "New email address"),
    ("email_changed", "Votre adresse électronique a été changée", "Your email address has been changed"),
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
    ("no_entry", "Aucune entrée pour l'instant.", "No entry yet."),
    ("import_contact", "Une erreur ? Contactez :", "An error? Contact:"),
];

/// The page words in `lang` (`fr` or `en`), by key.
pub fn strings(lang: &str) -> Value {
    let english = lang == "en";
    let words: Map<String, Value> = WORDS
        .iter()
        .map(|(key, fr, en)| {
            let text = if english { en } else { fr };
            ((*key).to_owned(), Value::String((*text).to_owned()))
        })
        .collect();
    Value::Object(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_given_once() {
        let mut keys: Vec<&str> = WORDS.iter().map(|(key, _, _)| *key).collect();
        keys.sort_unstable();
        let count = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), count);
        assert!(WORDS
            .iter()
            .all(|(_, fr, en)| !fr.is_empty() && !en.is_empty()));
    }
}
