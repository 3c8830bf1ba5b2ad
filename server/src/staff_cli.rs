//! `guichet staff`: staff accounts from the command line, for the first
//! administrator and for scripts. The server must be stopped (its database is
//! open while it runs); administrators manage staff from the team page then.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use guichet_engine::{Definition, DefinitionError};

use crate::staff_store::{Rights, StaffStore};

/// Settings of `guichet staff`.
#[derive(clap::Args, Debug)]
pub struct StaffOptions {
    #[command(subcommand)]
    action: StaffAction,
    /// Data directory of the server.
    #[arg(long, env = "GUICHET_DATA", default_value = "data", global = true)]
    data: PathBuf,
    /// Definition the roles and scopes are checked against.
    #[arg(long, env = "GUICHET_DEFINITION", global = true)]
    definition: Option<PathBuf>,
    /// Address users reach the server at, for the password link.
    #[arg(
        long,
        env = "GUICHET_BASE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    base_url: String,
}

#[derive(clap::Subcommand, Debug)]
enum StaffAction {
    /// Creates a staff account (or changes its rights) and prints the link
    /// its owner chooses a password with.
    Add {
        /// Email address, the sign-in identifier.
        email: String,
        /// Roles of the definition, comma-separated (e.g. `gestionnaire,commission`).
        #[arg(long, value_delimiter = ',')]
        role: Vec<String>,
        /// Formations or composantes, comma-separated, or `*` for all.
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// Also administers the staff accounts.
        #[arg(long)]
        admin: bool,
        /// First and last name, e.g. `"Claire Martin"`.
        #[arg(long)]
        name: Option<String>,
    },
    /// Prints a new link to choose a password (a forgotten one).
    Link {
        /// Email address.
        email: String,
    },
    /// Lists the staff accounts.
    List,
    /// Signs a staff member out and keeps them out.
    Disable {
        /// Email address.
        email: String,
    },
    /// Lets a disabled staff member sign in again.
    Enable {
        /// Email address.
        email: String,
    },
}

/// Runs `guichet staff …`.
pub fn run(options: StaffOptions) -> anyhow::Result<ExitCode> {
    let definition = match &options.definition {
        Some(path) => match Definition::load(path) {
            Ok(definition) => Some(definition),
            Err(DefinitionError::Invalid(diagnostics)) => {
                eprint!("{diagnostics}");
                return Ok(ExitCode::FAILURE);
            }
            Err(error) => return Err(error.into()),
        },
        None => None,
    };
    let path = options.data.join("staff");
    std::fs::create_dir_all(&options.data)
        .with_context(|| format!("creating {}", options.data.display()))?;
    let staff = StaffStore::open(&path).with_context(|| {
        format!(
            "opening {} (a running server holds it: stop it, or manage staff from its team page)",
            path.display()
        )
    })?;
    let now = jiff::Timestamp::now();
    match options.action {
        StaffAction::Add {
            email,
            role,
            scope,
            admin,
            name,
        } => {
            let email = email.trim().to_lowercase();
            if !crate::web::forms::valid_email(&email) {
                bail!("`{email}` is not an email address");
            }
            let rights = Rights {
                roles: role.iter().map(|r| r.trim().to_owned()).collect(),
                scope: scope
                    .iter()
                    .map(|s| s.trim().to_owned())
                    .collect::<BTreeSet<_>>(),
                admin,
                disabled: false,
                procedure: definition.as_ref().map(|d| d.file().id.clone()),
            };
            if let Some(definition) = &definition {
                let unknown = rights.unknown_to(definition);
                if !unknown.is_empty() {
                    for problem in unknown {
                        eprintln!("error: {problem}");
                    }
                    return Ok(ExitCode::FAILURE);
                }
            }
            let name = name
                .as_deref()
                .map(|n| n.trim().split_once(' ').unwrap_or((n.trim(), "")));
            let (member, created) = staff.add(&email, name, rights, now)?;
            println!(
                "{} {email}: {}",
                if created { "created" } else { "updated" },
                describe(&member.rights)
            );
            if member.account.password.is_none() {
                print_link(&staff, &member.account.id, &options.base_url)?;
            }
        }
        StaffAction::Link { email } => {
            let Some(member) = staff.find_by_email(&email)? else {
                bail!("no staff account with the address `{email}` (see `guichet staff list`)");
            };
            print_link(&staff, &member.account.id, &options.base_url)?;
        }
        StaffAction::List => {
            for member in staff.members()? {
                let status = match (member.rights.disabled, member.account.password.is_some()) {
                    (true, _) => "disabled",
                    (false, true) => "active",
                    (false, false) => "no password yet",
                };
                println!(
                    "{}\t{}\t{}\t{status}",
                    member.account.email,
                    member.name(),
                    describe(&member.rights)
                );
            }
        }
        StaffAction::Disable { email } => set_disabled(&staff, &email, true)?,
        StaffAction::Enable { email } => set_disabled(&staff, &email, false)?,
    }
    staff.accounts.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print_link(staff: &StaffStore, id: &str, base_url: &str) -> anyhow::Result<()> {
    let (link, expires) = staff.password_link(id, base_url, jiff::Timestamp::now())?;
    println!("choose a password (link valid until {expires:.0}): {link}");
    Ok(())
}

fn set_disabled(staff: &StaffStore, email: &str, disabled: bool) -> anyhow::Result<()> {
    let Some(member) = staff.find_by_email(email)? else {
        bail!("no staff account with the address `{email}` (see `guichet staff list`)");
    };
    let rights = Rights {
        disabled,
        ..member.rights
    };
    staff.set_rights(&member.account.id, &rights)?;
    println!("{email}: {}", if disabled { "disabled" } else { "enabled" });
    Ok(())
}

/// Roles, scope and administration, on one line.
fn describe(rights: &Rights) -> String {
    let roles: Vec<&str> = rights.roles.iter().map(String::as_str).collect();
    let scope: Vec<&str> = rights.scope.iter().map(String::as_str).collect();
    format!(
        "roles {}; scope {}{}",
        if roles.is_empty() {
            "none".into()
        } else {
            roles.join(",")
        },
        scope.join(","),
        if rights.admin { "; administrator" } else { "" }
    )
}
