//! The definition format, as Rust types.
//!
//! These types are what a definition file deserialises into once its structure
//! is valid; they also generate the published JSON Schema
//! (`definitions/guichet.schema.json`), so editors and the checker agree.
//! Every element that answers, conditions, templates or history refer to has an
//! `id`; labels can change freely.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The languages the pages' own words are written in.
pub const SUPPORTED_LANGUAGES: [&str; 2] = ["fr", "en"];

/// A whole definition file: one institution's procedure.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Guichet definition")]
pub struct DefinitionFile {
    /// Version of the definition format. Only `1` exists.
    pub guichet: u32,
    /// A base definition this file changes (path relative to this file):
    /// mappings merge key by key, lists of entries with an `id` merge by id
    /// (`remove: true` takes one out), anything else is replaced. Resolved
    /// when loading: `guichet check --merged` prints the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// Identifier of the procedure (lowercase letters, digits, `-` and `_`).
    pub id: String,
    /// Title shown to candidates and staff.
    pub title: Text,
    /// Time zone in which dates of this file are read (IANA name). Default `UTC`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Sender of the mails, e.g. `"Scolarité <scolarite@example.org>"`.
    #[serde(default)]
    pub sender: Option<String>,
    /// Languages of the pages and mails, the default first (`[en, fr]`).
    /// Default `[fr, en]`. The pages' own words exist in `fr` and `en`.
    #[serde(default)]
    pub languages: Vec<String>,
    /// The pages' own words overridden, by language then key (the keys of
    /// the built-in words, e.g. `catalogue: Scholarships`).
    #[serde(default)]
    pub words: BTreeMap<String, BTreeMap<String, String>>,
    /// The campaign: when candidatures can be created and transmitted.
    pub campaign: Campaign,
    /// How candidates get an account.
    #[serde(default)]
    pub accounts: Accounts,
    /// Reference lists (inline items or a CSV file beside this file), keyed by id.
    #[serde(default)]
    pub lists: BTreeMap<String, ListDef>,
    /// Id of the list that holds the composantes (faculties) formations belong to.
    #[serde(default)]
    pub composantes: Option<String>,
    /// The dossier sections every candidate fills once, in order.
    #[serde(default)]
    pub profile: Vec<SectionDef>,
    /// Complementary forms that some formations require.
    #[serde(default)]
    pub forms: Vec<FormDef>,
    /// The documents (pièces justificatives) formations can require.
    #[serde(default)]
    pub pieces: Vec<PieceDef>,
    /// The catalogue of formations candidates apply to.
    #[serde(default)]
    pub formations: Vec<FormationDef>,
    /// Who acts on dossiers.
    pub roles: Vec<RoleDef>,
    /// Statuses, transitions and deadlines of a candidature and of its pieces.
    pub workflow: WorkflowDef,
    /// Mail templates (minijinja), referred to by id.
    #[serde(default)]
    pub mails: Vec<MailDef>,
    /// Letters (an admission, a refusal) printed as PDF: a mail that names
    /// one in `letters:` issues it, attached; the candidate downloads it.
    #[serde(default)]
    pub letters: Vec<LetterDef>,
    /// The institution's signature at the foot of every letter.
    #[serde(default)]
    pub signature: Option<SignatureDef>,
    /// How dossiers started under an earlier version of this file move to
    /// this one (`guichet migrate`): what was renamed, what a new required
    /// answer is where a saved section lacks it.
    #[serde(default, skip_serializing_if = "MigrateDef::is_empty")]
    pub migrate: MigrateDef,
    /// Scenarios that `guichet test` plays against this definition.
    #[serde(default)]
    pub tests: Vec<TestScenario>,
}

/// A text given once, or per language.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum Text {
    /// The same text in every language.
    Plain(String),
    /// One text per language; French is used when the asked language is missing.
    PerLanguage(Translations),
}

/// Texts per language.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Translations {
    /// French.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fr: Option<String>,
    /// English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl Text {
    /// The text in `language` (`fr` or `en`), falling back to French, then English.
    pub fn get(&self, language: &str) -> &str {
        match self {
            Text::Plain(text) => text,
            Text::PerLanguage(t) => {
                let asked = if language == "en" { &t.en } else { &t.fr };
                asked
                    .as_deref()
                    .or(t.fr.as_deref())
                    .or(t.en.as_deref())
                    .unwrap_or("")
            }
        }
    }

    /// Every language variant with its language code (`""` for a plain text).
    pub fn variants(&self) -> Vec<(&'static str, &str)> {
        match self {
            Text::Plain(text) => vec![("", text.as_str())],
            Text::PerLanguage(t) => {
                let mut out = Vec::new();
                if let Some(fr) = &t.fr {
                    out.push(("fr", fr.as_str()));
                }
                if let Some(en) = &t.en {
                    out.push(("en", en.as_str()));
                }
                out
            }
        }
    }
}

/// One id or several.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single id.
    One(String),
    /// Several ids.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The ids as a slice-like list.
    pub fn ids(&self) -> Vec<&str> {
        self.as_slice().iter().map(String::as_str).collect()
    }

    /// The ids, without a list made: what the pages' and commands' checks
    /// read, once per transition they look at.
    pub fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(id) => std::slice::from_ref(id),
            OneOrMany::Many(ids) => ids,
        }
    }

    /// Whether `id` is among the ids.
    pub fn contains(&self, id: &str) -> bool {
        self.as_slice().iter().any(|known| known == id)
    }
}

/// Campaign dates and limits.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// First day candidatures can be created (`YYYY-MM-DD`).
    pub opens: String,
    /// Last day candidatures can be created or transmitted (`YYYY-MM-DD`, inclusive).
    pub closes: String,
    /// Most candidatures one candidate may have at once (cancelled ones excluded).
    #[serde(default)]
    pub max_candidatures: Option<u32>,
}

/// How candidates get an account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    /// Self sign-up by email with an activation link, or none (SSO only).
    #[serde(default)]
    pub signup: SignupMode,
    /// Single sign-on for former students, shown on the sign-in page.
    #[serde(default)]
    pub sso: Vec<SsoDef>,
    /// Mails of the account life cycle, by mail id.
    #[serde(default)]
    pub mails: AccountMails,
}

/// Sign-up modes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignupMode {
    /// Last name, first name and email, then an activation link by mail.
    #[default]
    EmailActivation,
    /// No self sign-up.
    None,
}

/// A single sign-on provider.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoDef {
    /// Identifier of the provider.
    pub id: String,
    /// Protocol spoken by the provider.
    pub protocol: SsoProtocol,
    /// Label of the sign-in button.
    pub label: Text,
    /// Address of the provider (the server needs it when SSO is enabled).
    #[serde(default)]
    pub url: Option<String>,
}

/// Single sign-on protocols.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SsoProtocol {
    /// CAS (Central Authentication Service).
    Cas,
    /// OpenID Connect.
    Oidc,
}

/// Mail ids sent along the account life cycle (mails with `about: account`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountMails {
    /// Sent at sign-up, with the activation link and the identifier.
    #[serde(default)]
    pub activation: Option<String>,
    /// Sent once the account is activated, with the sign-in link.
    #[serde(default)]
    pub activated: Option<String>,
    /// Sent when a candidate forgot their password.
    #[serde(default)]
    pub password_reset: Option<String>,
    /// Sent to the new address when a candidate changes their email.
    #[serde(default)]
    pub email_change: Option<String>,
    /// Sent to the former address once a change is confirmed, with a link
    /// that undoes it (`account.identifier` is the new address).
    #[serde(default)]
    pub email_changed: Option<String>,
}

/// A reference list: inline items or a CSV file (first line = column names).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDef {
    /// CSV file, relative to the definition file.
    #[serde(default)]
    pub file: Option<String>,
    /// Inline rows, each a mapping of column → value.
    #[serde(default)]
    pub items: Option<Vec<BTreeMap<String, String>>>,
    /// Column holding each row's stable key. Default `id`.
    #[serde(default)]
    pub key: Option<String>,
    /// Column holding each row's label. Default `label`.
    #[serde(default)]
    pub label: Option<String>,
}

/// A section of the candidate's dossier.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionDef {
    /// Stable id; answers are stored under it.
    pub id: String,
    /// Title of the section.
    pub title: Text,
    /// Explanation shown above the fields.
    #[serde(default)]
    pub help: Option<Text>,
    /// Condition (rhai) for the section to apply at all.
    #[serde(default)]
    pub when: Option<String>,
    /// The section holds a list of entries (e.g. one per year of study).
    #[serde(default)]
    pub repeat: Option<RepeatDef>,
    /// The section is read-only, filled by an import.
    #[serde(default)]
    pub import: Option<ImportDef>,
    /// The fields, in order.
    pub fields: Vec<FieldDef>,
}

/// Settings of a repeatable section.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatDef {
    /// Label of the button that adds an entry.
    pub add_label: Text,
    /// Fewest entries for the section to be complete. Default 0.
    #[serde(default)]
    pub min: Option<u32>,
    /// Most entries allowed.
    #[serde(default)]
    pub max: Option<u32>,
}

/// A read-only section fed by an import.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportDef {
    /// Name of the source system the data comes from.
    pub source: String,
    /// Whom to contact about an error in the imported data.
    #[serde(default)]
    pub contact: Option<Text>,
}

/// Where a complementary form is filled.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FormMode {
    /// On the candidature's pages, checked like a section.
    #[default]
    Online,
    /// In an outside questionnaire; its answers are uploaded as the piece.
    External,
}

/// A complementary form some formations require.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    /// Stable id.
    pub id: String,
    /// Title of the form.
    pub title: Text,
    /// Explanation shown above the questions.
    #[serde(default)]
    pub help: Option<Text>,
    /// The questions.
    pub fields: Vec<FieldDef>,
    /// The piece the completed form counts as (no upload then).
    #[serde(default)]
    pub piece: Option<String>,
    /// `online` (default): filled on the candidature's pages; `external`: an
    /// outside questionnaire at `url`, whose answers the candidate uploads as
    /// the piece.
    #[serde(default)]
    pub mode: FormMode,
    /// For `mode: external`, the questionnaire's address; `{dossier}` is
    /// replaced by the dossier's number.
    #[serde(default)]
    pub url: Option<String>,
}

/// A field of a section, form or transition input.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// Stable id (a rhai identifier: lowercase letters, digits and `_`).
    pub id: String,
    /// Kind of value.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Label of the field.
    pub label: Text,
    /// Help shown under the field.
    #[serde(default)]
    pub help: Option<Text>,
    /// The field must be filled (when it applies).
    #[serde(default)]
    pub required: bool,
    /// Condition (rhai) for the field to apply; a field that does not apply is hidden and not required.
    #[serde(default)]
    pub when: Option<String>,
    /// Regular expression the whole value must match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Message shown when the pattern does not match.
    #[serde(default)]
    pub pattern_message: Option<Text>,
    /// Smallest number, or shortest text.
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest number, or longest text.
    #[serde(default)]
    pub max: Option<f64>,
    /// Fixed options of a choice.
    #[serde(default)]
    pub options: Option<Vec<OptionDef>>,
    /// Options taken from a reference list.
    #[serde(default)]
    pub options_from: Option<OptionsFrom>,
    /// Example shown inside an empty field.
    #[serde(default)]
    pub placeholder: Option<Text>,
    /// Staff find dossiers by this answer in their list's search (e.g. a
    /// student number); names, email and dossier number always are.
    #[serde(default)]
    pub search: bool,
}

/// Kinds of field values.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// One line of text.
    Text,
    /// Several lines of text.
    Textarea,
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// A date (`YYYY-MM-DD`).
    Date,
    /// A year (four digits).
    Year,
    /// A number.
    Number,
    /// Yes or no.
    Boolean,
    /// One option among several.
    Choice,
    /// Any number of options.
    MultiChoice,
}

/// One option of a choice.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionDef {
    /// Stable value stored in answers.
    pub id: String,
    /// Label shown.
    pub label: Text,
}

/// Options from a reference list, possibly filtered by other answers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionsFrom {
    /// Id of the list.
    pub list: String,
    /// Condition (rhai) on `row` (the list row) and the section's fields, e.g.
    /// `row.from <= year && year <= row.to`.
    #[serde(default)]
    pub filter: Option<String>,
}

/// A document candidates provide.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PieceDef {
    /// Stable id.
    pub id: String,
    /// Label of the piece.
    pub label: Text,
    /// Explanation of what to provide.
    #[serde(default)]
    pub help: Option<Text>,
    /// Accepted file formats.
    pub accept: Vec<FileFormat>,
    /// Largest file accepted, e.g. `2MB`, `500KB`.
    pub max_size: String,
    /// The candidate may declare themselves not concerned.
    #[serde(default)]
    pub not_concerned: bool,
    /// Condition (rhai) for the piece to be required; without it the piece is always required.
    #[serde(default)]
    pub required_when: Option<String>,
}

/// File formats accepted for pieces.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// PDF document.
    Pdf,
    /// JPEG image.
    Jpg,
    /// PNG image.
    Png,
}

impl FileFormat {
    /// Every format, in the order pages list them.
    pub const ALL: [FileFormat; 3] = [FileFormat::Pdf, FileFormat::Jpg, FileFormat::Png];

    /// The short name written in definitions and in `FileRef::format` (`pdf`).
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Pdf => "pdf",
            FileFormat::Jpg => "jpg",
            FileFormat::Png => "png",
        }
    }

    /// The name people know the format by (`PDF`).
    pub fn label(self) -> &'static str {
        match self {
            FileFormat::Pdf => "PDF",
            FileFormat::Jpg => "JPG",
            FileFormat::Png => "PNG",
        }
    }

    /// The media type files of this format are served with.
    pub fn mime(self) -> &'static str {
        match self {
            FileFormat::Pdf => "application/pdf",
            FileFormat::Jpg => "image/jpeg",
            FileFormat::Png => "image/png",
        }
    }

    /// File name extensions of the format, the usual one first.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            FileFormat::Pdf => &["pdf"],
            FileFormat::Jpg => &["jpg", "jpeg"],
            FileFormat::Png => &["png"],
        }
    }

    /// The format with short name `name` (as [`FileFormat::name`] gives it).
    pub fn from_name(name: &str) -> Option<FileFormat> {
        FileFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A formation of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormationDef {
    /// Stable id.
    pub id: String,
    /// Title of the formation.
    pub title: Text,
    /// Key of the composante in the list named by `composantes`.
    #[serde(default)]
    pub composante: Option<String>,
    /// Words candidates may search for.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Presentation.
    #[serde(default)]
    pub description: Option<Text>,
    /// Ids of the pieces this formation requires.
    #[serde(default)]
    pub pieces: Vec<String>,
    /// Id of the complementary form, if any.
    #[serde(default)]
    pub form: Option<String>,
    /// Address that gets the alerts about this formation.
    #[serde(default)]
    pub contact: Option<String>,
    /// Places offered, shown on the staff's dashboard beside the admissions.
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// A role.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    /// Stable id, used in `by:` and mail recipients.
    pub id: String,
    /// Label of the role.
    pub label: Text,
    /// What kind of actor holds the role.
    pub kind: RoleKind,
    /// Address mails to this role go to.
    #[serde(default)]
    pub address: Option<String>,
    /// What staff of this role read of a dossier; everything when absent.
    #[serde(default)]
    pub reads: Option<ReadsDef>,
    /// For a third party: where the candidate names them.
    #[serde(default)]
    pub named_in: Option<NamedInDef>,
    /// For a third party: the piece each person named provides (one letter
    /// each), through a single-use link mailed to them.
    #[serde(default)]
    pub provides: Option<String>,
    /// For a third party: the mail carrying the link (its template reads
    /// `third_party.name`, `third_party.link`, `third_party.expires`).
    #[serde(default)]
    pub mail: Option<String>,
    /// For a third party: how many days the link works. Default 14.
    #[serde(default)]
    pub link_valid_days: Option<u32>,
}

/// The profile section where a candidate names third parties, one per entry
/// (a repeatable section names several), and its fields holding their name
/// and email address.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedInDef {
    /// Profile section id.
    pub section: String,
    /// Field holding the person's name.
    pub name: String,
    /// Field (of type `email`) holding their address.
    pub email: String,
}

/// Days a third party's link works unless the role says otherwise.
pub const DEFAULT_LINK_VALID_DAYS: u32 = 14;

/// The profile sections and pieces a staff role reads (a member holding
/// several roles reads what any of them reads).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadsDef {
    /// Profile section ids; all when absent.
    #[serde(default)]
    pub sections: Option<Vec<String>>,
    /// Piece ids; all when absent.
    #[serde(default)]
    pub pieces: Option<Vec<String>>,
}

/// Kinds of actors.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoleKind {
    /// The candidate who owns the dossier: acts on their own dossier only.
    Candidate,
    /// Staff of the institution.
    Staff,
    /// The engine itself, acting when deadlines pass.
    System,
    /// Someone the candidate names (a referee, a supervisor) who provides a
    /// piece through a link mailed to them, without an account, and sees
    /// nothing else of the dossier.
    ThirdParty,
}

/// Statuses, transitions and deadlines.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDef {
    /// Statuses of a candidature; exactly one is `initial`.
    pub states: Vec<StateDef>,
    /// How a candidature moves between statuses.
    pub transitions: Vec<TransitionDef>,
    /// Statuses of a piece; exactly one is `initial`.
    pub piece_statuses: Vec<PieceStatusDef>,
    /// How a piece moves between statuses.
    #[serde(default)]
    pub piece_transitions: Vec<PieceTransitionDef>,
    /// Time-based actions.
    #[serde(default)]
    pub deadlines: Vec<DeadlineDef>,
    /// What happens when a candidate applies to a formation.
    #[serde(default)]
    pub on_apply: OnApply,
}

/// Effects of applying to a formation (creating a candidature).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnApply {
    /// Mails queued when the candidature is created.
    #[serde(default)]
    pub mails: Vec<MailEffect>,
}

/// A status of a candidature.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    /// Stable id.
    pub id: String,
    /// Label shown.
    pub label: Text,
    /// Candidatures start in this status.
    #[serde(default)]
    pub initial: bool,
    /// No transition leaves this status.
    #[serde(default, rename = "final")]
    pub is_final: bool,
    /// What the status means for the candidate.
    #[serde(default)]
    pub description: Option<Text>,
    /// Staff of these roles see candidatures in this status (all staff if empty).
    #[serde(default)]
    pub visible_to: Vec<String>,
}

/// A transition of a candidature.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionDef {
    /// Stable id.
    pub id: String,
    /// Label of the action (button).
    pub label: Text,
    /// Status(es) the transition leaves from.
    pub from: OneOrMany,
    /// Status reached.
    pub to: String,
    /// Role(s) allowed to perform it.
    pub by: OneOrMany,
    /// Guard (rhai): the transition is possible only when it holds.
    #[serde(default)]
    pub when: Option<String>,
    /// Message shown when the guard does not hold.
    #[serde(default)]
    pub refusal: Option<Text>,
    /// Values the actor gives (a reason, a rank…), stored in `candidature.data`.
    #[serde(default)]
    pub input: Vec<FieldDef>,
    /// Values (rhai expressions) stored in `candidature.data`, by key.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Piece status changes made by the transition.
    #[serde(default)]
    pub pieces: Vec<PieceEffect>,
    /// Mails queued by the transition.
    #[serde(default)]
    pub mails: Vec<MailEffect>,
    /// Gives the place freed by this transition to the best-ranked candidature
    /// of the same formation (a waiting list).
    #[serde(default)]
    pub promote: Option<PromoteDef>,
    /// Keeps a copy of what the candidate sends (profile and pieces): staff
    /// work on that copy, so later edits reach them only at the next sending.
    #[serde(default)]
    pub snapshot: bool,
}

/// Promotion from a waiting list, after a transition that frees a place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteDef {
    /// Condition (rhai) a candidature of the same formation must meet to be promoted.
    pub among: String,
    /// Expression (rhai) giving a candidature's rank: the smallest is promoted first.
    pub rank: String,
    /// Transition performed by the `system` role on the promoted candidature.
    #[serde(rename = "do")]
    pub action: String,
}

/// Moves every piece in one of `from` to `to`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PieceEffect {
    /// Piece status(es) to change.
    pub from: OneOrMany,
    /// New piece status.
    pub to: String,
}

/// A mail queued by a transition or deadline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailEffect {
    /// Id of the mail.
    pub mail: String,
    /// Condition (rhai) for the mail to be sent.
    #[serde(default)]
    pub when: Option<String>,
}

/// A status of a piece.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PieceStatusDef {
    /// Stable id.
    pub id: String,
    /// Label shown.
    pub label: Text,
    /// Pieces start in this status.
    #[serde(default)]
    pub initial: bool,
    /// A piece in this status counts as provided (e.g. uploaded, or declared not concerned).
    #[serde(default)]
    pub provided: bool,
}

/// A transition of a piece.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PieceTransitionDef {
    /// Stable id.
    pub id: String,
    /// Label of the action.
    pub label: Text,
    /// Piece status(es) it leaves from.
    pub from: OneOrMany,
    /// Piece status reached.
    pub to: String,
    /// Role(s) allowed to perform it.
    pub by: OneOrMany,
    /// Guard (rhai) on the candidature.
    #[serde(default)]
    pub when: Option<String>,
    /// Message shown when the guard does not hold.
    #[serde(default)]
    pub refusal: Option<Text>,
    /// A file comes with this action (upload), or is removed (remove).
    #[serde(default)]
    pub file: FileEffect,
    /// Only for pieces that may be declared not concerned.
    #[serde(default)]
    pub requires_not_concerned: bool,
    /// Whether a comment (e.g. the reason of a refusal) comes with the action.
    #[serde(default)]
    pub comment: CommentRule,
}

/// What a piece transition does with the file.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileEffect {
    /// The file is left as it is.
    #[default]
    Keep,
    /// A file must come with the action; it replaces the previous one.
    Attach,
    /// The file is removed.
    Remove,
}

/// Whether an action takes a comment.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CommentRule {
    /// No comment.
    #[default]
    None,
    /// A comment may be given.
    Optional,
    /// A comment must be given.
    Required,
}

/// A time-based action on candidatures.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineDef {
    /// Stable id.
    pub id: String,
    /// Label shown to staff and candidates.
    pub label: Text,
    /// Status(es) the candidature must be in.
    #[serde(rename = "in")]
    pub states: OneOrMany,
    /// Extra condition (rhai) on the candidature.
    #[serde(default)]
    pub when: Option<String>,
    /// Due at the end of this day: a date `YYYY-MM-DD`, `campaign.opens`,
    /// `campaign.closes`, or a date the candidature holds,
    /// `candidature.data.<input or set value>`.
    #[serde(default)]
    pub at: Option<String>,
    /// Due this long after the candidature entered its status, e.g. `8 days`.
    #[serde(default)]
    pub after: Option<String>,
    /// Fire this long before the due time (reminders), e.g. `2 days`.
    #[serde(default)]
    pub before: Option<String>,
    /// Transition performed by the `system` role when due.
    #[serde(default, rename = "do")]
    pub action: Option<String>,
    /// Mail queued when due.
    #[serde(default)]
    pub mail: Option<String>,
}

impl DeadlineDef {
    /// The candidature value whose date the deadline falls on, for
    /// `at: candidature.data.<field>`.
    pub fn held_date(&self) -> Option<&str> {
        self.at.as_deref()?.strip_prefix("candidature.data.")
    }
}

/// A mail template.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailDef {
    /// Stable id.
    pub id: String,
    /// What the mail is about, which decides the variables it can use.
    #[serde(default)]
    pub about: MailSubject,
    /// Recipients: `candidate` (the dossier's candidate), `formation` (the formation's
    /// contact), a staff role id (its address), an address, or an answer of
    /// type `email`, `profile.<section>.<field>` (every entry's, for a
    /// repeatable section). Default `candidate`.
    #[serde(default)]
    pub to: Option<OneOrMany>,
    /// Subject (minijinja template).
    pub subject: Text,
    /// Plain-text body (minijinja template).
    pub text: Text,
    /// HTML body (minijinja template, values auto-escaped).
    #[serde(default)]
    pub html: Option<Text>,
    /// Letters issued with this mail and attached to it as PDF (ids of
    /// `letters:`); each is kept in the candidature for the candidate to download.
    #[serde(default)]
    pub letters: Vec<String>,
}

/// A letter template: what a decision letter says, printed as PDF under the
/// institution's heading, above its signature.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterDef {
    /// Stable id.
    pub id: String,
    /// Its subject line and the name of its file (minijinja template).
    pub title: Text,
    /// Its body (minijinja template, the variables of a candidature's
    /// mail); a blank line separates paragraphs.
    pub text: Text,
}

/// Mappings from an earlier version of the file to this one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateDef {
    /// Statuses renamed: the earlier id, then this file's.
    #[serde(default)]
    pub states: BTreeMap<String, String>,
    /// Pieces renamed: the earlier id, then this file's.
    #[serde(default)]
    pub pieces: BTreeMap<String, String>,
    /// Fields renamed or moved: `section.field` earlier, then in this file.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The answer of a field newly required (`section.field`), where a
    /// saved section lacks one.
    #[serde(default)]
    pub defaults: BTreeMap<String, serde_json::Value>,
}

impl MigrateDef {
    /// Whether it maps nothing.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
            && self.pieces.is_empty()
            && self.fields.is_empty()
            && self.defaults.is_empty()
    }
}

/// Who sends and signs the letters, and where.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureDef {
    /// The institution's name and address at the top of every letter, one
    /// line each. Default: the definition's title.
    #[serde(default)]
    pub institution: Option<Text>,
    /// The town the letters are written from, before their date.
    #[serde(default)]
    pub place: Option<Text>,
    /// The signatory's name.
    pub name: Text,
    /// Their function, one line each (`Directeur de …`).
    #[serde(default)]
    pub function: Option<Text>,
}

/// The section and field a mail recipient `profile.<section>.<field>` names
/// (an address the candidate gave: a referee's).
pub fn answer_recipient(recipient: &str) -> Option<(&str, &str)> {
    recipient.strip_prefix("profile.")?.split_once('.')
}

/// What a mail is about.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MailSubject {
    /// A candidature (variables: candidate, profile, formation, candidature, transition…).
    #[default]
    Candidature,
    /// An account (variables: account, link, institution).
    Account,
}

/// A scenario played by `guichet test`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestScenario {
    /// What the scenario shows.
    pub name: String,
    /// Date the scenario starts at (`YYYY-MM-DD`). Default: the campaign's opening day.
    #[serde(default)]
    pub today: Option<String>,
    /// Answers of the dossier sections, by section id.
    #[serde(default)]
    pub profile: BTreeMap<String, serde_json::Value>,
    /// Language of the candidate (their mails and refusals): the
    /// definition's default language unless given.
    #[serde(default)]
    pub language: Option<String>,
    /// Other candidates, by a name steps give in `candidate:` (the first
    /// candidate is `candidate`): to play what one candidate's action does to
    /// another's (a withdrawal that promotes someone from the waiting list).
    #[serde(default)]
    pub candidates: BTreeMap<String, TestCandidate>,
    /// The steps, in order.
    pub steps: Vec<TestStep>,
}

/// Another candidate of a scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCandidate {
    /// First name (mails greet them by it). Default: the candidate's name in the scenario.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Language of their mails and refusals: the definition's default unless given.
    #[serde(default)]
    pub language: Option<String>,
    /// Answers of their dossier sections, by section id.
    #[serde(default)]
    pub profile: BTreeMap<String, serde_json::Value>,
}

/// One step of a scenario: an action, or expectations, or both.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestStep {
    /// Which candidate acts (a name of `candidates:`); default: the first.
    #[serde(default)]
    pub candidate: Option<String>,
    /// Save these profile sections (answers by section id), as the candidate.
    #[serde(default)]
    pub save: BTreeMap<String, serde_json::Value>,
    /// Apply to this formation.
    #[serde(default)]
    pub apply: Option<String>,
    /// Perform this transition (candidature) or piece transition (with `piece`).
    #[serde(default, rename = "do")]
    pub action: Option<String>,
    /// Piece the action is about.
    #[serde(default)]
    pub piece: Option<String>,
    /// Role performing the action. Default: the candidate role.
    #[serde(default, rename = "as")]
    pub role: Option<String>,
    /// The candidate asks the third parties of this role they name (mails
    /// each a link).
    #[serde(default)]
    pub ask: Option<String>,
    /// The third party of this role sends their piece through their link.
    #[serde(default)]
    pub send: Option<String>,
    /// Which person of `send:` (their entry in the naming section). Default 0.
    #[serde(default)]
    pub entry: Option<usize>,
    /// Answers to the candidature's complementary form, saved as the candidate.
    #[serde(default)]
    pub form: Option<serde_json::Map<String, serde_json::Value>>,
    /// Values given with the action.
    #[serde(default)]
    pub input: BTreeMap<String, serde_json::Value>,
    /// Comment given with a piece action.
    #[serde(default)]
    pub comment: Option<String>,
    /// Move the clock to this date (`YYYY-MM-DD`) and run what is due.
    #[serde(default)]
    pub wait_until: Option<String>,
    /// What must hold after the action.
    #[serde(default)]
    pub expect: Option<TestExpect>,
}

/// Expectations of a test step.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestExpect {
    /// Status of the candidature.
    #[serde(default)]
    pub state: Option<String>,
    /// Status of pieces, by piece id.
    #[serde(default)]
    pub pieces: BTreeMap<String, String>,
    /// Ids of the mails queued by the step (in any order).
    #[serde(default)]
    pub mails: Option<Vec<String>>,
    /// Words that the subject or text of a mail queued by the step must contain.
    #[serde(default)]
    pub mail_contains: Vec<String>,
    /// Words that the title or text of a letter issued by the step must contain.
    #[serde(default)]
    pub letter_contains: Vec<String>,
    /// The action is refused (text the message must contain).
    #[serde(default)]
    pub refused: Option<String>,
    /// Profile sections that must be complete.
    #[serde(default)]
    pub complete: Vec<String>,
    /// Profile sections that must be incomplete.
    #[serde(default)]
    pub incomplete: Vec<String>,
    /// Fields (`section.field`) that must be hidden (not applying, not required).
    #[serde(default)]
    pub hidden: Vec<String>,
    /// Fields (`section.field`) that must be shown.
    #[serde(default)]
    pub shown: Vec<String>,
}
