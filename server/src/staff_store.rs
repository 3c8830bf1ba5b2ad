//! Staff accounts: who works on the candidatures, with which roles of the
//! definition, on which formations, and whether they administer the others.
//!
//! Staff accounts live in their own database (`DATA/staff`), apart from the
//! candidates': the same accounts, links and sessions, but a candidate's
//! session can never name a staff account, nor the other way round.

use std::collections::BTreeSet;

use guichet_engine::model::{ReadsDef, RoleDef, RoleKind};
use guichet_engine::Definition;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::account_store::{decode, encode, storage, Account, AccountError, AccountStore};

/// What a staff member may do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rights {
    /// Roles of the definition (of kind `staff`) they act with.
    pub roles: BTreeSet<String>,
    /// Formations or composantes they work on; `*` for all.
    pub scope: BTreeSet<String>,
    /// Manages the staff accounts and sees every formation's dashboard.
    #[serde(default)]
    pub admin: bool,
    /// Signed out and kept out, history kept.
    #[serde(default)]
    pub disabled: bool,
    /// The procedure (definition id) these rights are for; on a server of
    /// several procedures, a member works in this one only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procedure: Option<String>,
}

/// How long the link a staff member chooses their password with works.
pub const WELCOME_VALIDITY: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The scope that covers every formation.
pub const EVERYWHERE: &str = "*";

impl Rights {
    /// Whether these rights are for `procedure` (a server of several: `Some`
    /// id), or any for a server of one.
    pub fn works_in(&self, procedure: Option<&str>) -> bool {
        procedure.is_none_or(|id| self.procedure.as_deref() == Some(id))
    }

    /// Whether the scope covers `formation` of `definition` (by its id or its
    /// composante's).
    pub fn covers(&self, definition: &Definition, formation: &str) -> bool {
        if self.scope.contains(EVERYWHERE) || self.scope.contains(formation) {
            return true;
        }
        definition
            .formation(formation)
            .and_then(|f| f.composante.as_deref())
            .is_some_and(|c| self.scope.contains(c))
    }

    /// The formations of `definition` the scope covers, in the definition's order.
    pub fn formations<'d>(&self, definition: &'d Definition) -> Vec<&'d str> {
        let formations = definition.file().formations.iter();
        formations
            .map(|f| f.id.as_str())
            .filter(|f| self.covers(definition, f))
            .collect()
    }

    /// Whether a member with these rights sees candidatures in `state`: it is
    /// visible to one of their roles (or to all staff); an administrator
    /// oversees every state.
    pub fn sees_state(&self, definition: &Definition, state: &str) -> bool {
        self.admin
            || definition.state(state).is_some_and(|s| {
                s.visible_to.is_empty() || s.visible_to.iter().any(|r| self.holds(r))
            })
    }

    /// Whether a member with these rights reads profile section `id`.
    pub fn reads_section(&self, definition: &Definition, id: &str) -> bool {
        self.reads(definition, |r| r.sections.as_ref(), id)
    }

    /// Whether a member with these rights reads piece `id` (its status and file).
    pub fn reads_piece(&self, definition: &Definition, id: &str) -> bool {
        self.reads(definition, |r| r.pieces.as_ref(), id)
    }

    /// What one of their staff roles reads (all of it when the role does
    /// not narrow it); an administrator, or a member given no role, reads
    /// all. Roles the definition does not have as staff roles (renamed by a
    /// new version, or recorded unchecked) give nothing.
    fn reads(
        &self,
        definition: &Definition,
        list: impl Fn(&ReadsDef) -> Option<&Vec<String>>,
        id: &str,
    ) -> bool {
        let roles = self.staff_roles(definition);
        self.admin
            || self.roles.is_empty()
            || roles.iter().any(|role| {
                let narrowed = role.reads.as_ref().and_then(&list);
                narrowed.is_none_or(|ids| ids.iter().any(|i| i == id))
            })
    }

    /// Whether a staff member holds `role`.
    pub fn holds(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// The staff roles of `definition` these rights hold, in its order. A
    /// role of another kind gives a member nothing (the system's, a
    /// candidate's): `guichet staff add` without `--definition` records
    /// roles unchecked, and a new version may change a role's kind.
    pub fn staff_roles<'d>(&self, definition: &'d Definition) -> Vec<&'d RoleDef> {
        let roles = definition.file().roles.iter();
        roles
            .filter(|r| r.kind == RoleKind::Staff && self.holds(&r.id))
            .collect()
    }

    /// What in these rights `definition` does not know: roles that are not
    /// staff roles, scope entries that are neither formations nor composantes.
    pub fn unknown_to(&self, definition: &Definition) -> Vec<String> {
        let mut problems = Vec::new();
        let file = definition.file();
        for role in &self.roles {
            let staff = definition
                .role(role)
                .is_some_and(|r| r.kind == RoleKind::Staff);
            if !staff {
                let known: Vec<&str> = file
                    .roles
                    .iter()
                    .filter(|r| r.kind == RoleKind::Staff)
                    .map(|r| r.id.as_str())
                    .collect();
                problems.push(format!(
                    "`{role}` is not a staff role of the definition (its staff roles: {})",
                    known.join(", ")
                ));
            }
        }
        for entry in &self.scope {
            let known = entry == EVERYWHERE
                || definition.formation(entry).is_some()
                || file
                    .formations
                    .iter()
                    .any(|f| f.composante.as_deref() == Some(entry));
            if !known {
                problems.push(format!(
                    "`{entry}` is neither a formation nor a composante of the definition (or `*` for all)"
                ));
            }
        }
        problems
    }
}

/// A staff account with its rights.
#[derive(Debug, Clone)]
pub struct StaffMember {
    /// The account (email, names, password).
    pub account: Account,
    /// What they may do.
    pub rights: Rights,
}

impl StaffMember {
    /// The name history and pages show.
    pub fn name(&self) -> String {
        format!("{} {}", self.account.first_name, self.account.last_name)
            .trim()
            .to_owned()
    }
}

/// Staff accounts, their links and sessions, and their rights.
#[derive(Clone)]
pub struct StaffStore {
    /// Accounts, links and sessions, as for candidates.
    pub accounts: AccountStore,
    rights: sled::Tree,
}

impl StaffStore {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &std::path::Path) -> Result<Self, AccountError> {
        let accounts = AccountStore::within(sled::open(path).map_err(storage)?)?;
        let rights = accounts.tree("rights")?;
        Ok(Self { accounts, rights })
    }

    /// The rights of account `id` (none for an account without any).
    pub fn rights(&self, id: &str) -> Result<Rights, AccountError> {
        match self.rights.get(id).map_err(storage)? {
            Some(bytes) => decode(&bytes),
            None => Ok(Rights::default()),
        }
    }

    /// The staff member of account `id`.
    pub fn member(&self, id: &str) -> Result<Option<StaffMember>, AccountError> {
        let Some(account) = self.accounts.get(id)? else {
            return Ok(None);
        };
        let rights = self.rights(id)?;
        Ok(Some(StaffMember { account, rights }))
    }

    /// The staff member signing in with `email`.
    pub fn find_by_email(&self, email: &str) -> Result<Option<StaffMember>, AccountError> {
        match self.accounts.find_by_email(email)? {
            Some(account) => self.member(&account.id),
            None => Ok(None),
        }
    }

    /// Every staff member, by email.
    pub fn members(&self) -> Result<Vec<StaffMember>, AccountError> {
        let mut members = Vec::new();
        for account in self.accounts.all()? {
            let rights = self.rights(&account.id)?;
            members.push(StaffMember { account, rights });
        }
        members.sort_by(|a, b| a.account.email.cmp(&b.account.email));
        Ok(members)
    }

    /// Creates the member with `email` or, if it exists, gives it `rights`
    /// (and `name`, if given). Returns the member and whether it is new.
    pub fn add(
        &self,
        email: &str,
        name: Option<(&str, &str)>,
        rights: Rights,
        now: Timestamp,
    ) -> Result<(StaffMember, bool), AccountError> {
        let (first, last) = name.unwrap_or_else(|| (email.split('@').next().unwrap_or(email), ""));
        // Staff accounts are never taken over: `Duration::MAX` keeps an
        // account without a password as long as it exists.
        let (mut account, created) =
            self.accounts
                .create(first, last, email, (now, std::time::Duration::MAX))?;
        if let (Some((first, last)), false) = (name, created) {
            account.first_name = first.to_owned();
            account.last_name = last.to_owned();
            self.accounts.save(&account)?;
        }
        self.set_rights(&account.id, &rights)?;
        Ok((StaffMember { account, rights }, created))
    }

    /// A new link (at `base_url`) with which member `id` chooses a password,
    /// valid a week, once; and when it expires.
    pub fn password_link(
        &self,
        id: &str,
        base_url: &str,
        now: Timestamp,
    ) -> Result<(String, Timestamp), AccountError> {
        let purpose = crate::account_store::Purpose::PasswordReset;
        let (token, expires) = self
            .accounts
            .issue_token(purpose, id, WELCOME_VALIDITY, now)?;
        let base = base_url.trim_end_matches('/');
        Ok((format!("{base}/staff/mot-de-passe/{token}"), expires))
    }

    /// Stores the rights of account `id`; a disabled member is signed out
    /// everywhere and their links stop working.
    pub fn set_rights(&self, id: &str, rights: &Rights) -> Result<(), AccountError> {
        self.rights.insert(id, encode(rights)?).map_err(storage)?;
        if rights.disabled {
            self.accounts.close_sessions_of(id)?;
            self.accounts.revoke_links(id)?;
        }
        self.accounts.flush()
    }
}
