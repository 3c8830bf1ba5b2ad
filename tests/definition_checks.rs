//! Every check of the definition loader, each on a small invalid definition,
//! asserting the reported position and the hint.

use guichet_engine::{Bundle, Definition, DefinitionError};

const MINIMAL: &str = include_str!("fixtures/minimal.yaml");

/// (line, column, message, hint) of every problem of `text`.
fn problems(text: &str) -> Vec<(usize, usize, String, String)> {
    match Definition::from_text("test.yaml", text) {
        Ok(_) => Vec::new(),
        Err(DefinitionError::Invalid(diagnostics)) => diagnostics
            .items()
            .iter()
            .map(|d| (d.line, d.column, d.message.clone(), d.hint.clone()))
            .collect(),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// The minimal definition with `from` replaced by `to` (which must occur once).
fn edit(from: &str, to: &str) -> String {
    assert_eq!(MINIMAL.matches(from).count(), 1, "`{from}` must occur once");
    MINIMAL.replace(from, to)
}

fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).expect("needle present");
    text[..at].matches('\n').count() + 1
}

fn single(text: &str) -> (usize, usize, String, String) {
    let mut found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem, got {found:#?}");
    found.remove(0)
}

#[test]
fn the_minimal_definition_is_valid() {
    assert_eq!(problems(MINIMAL), Vec::new());
}

#[test]
fn yaml_syntax_error() {
    let text = edit("  closes: 2027-06-15", "  closes: 2027-06-15\n    oops: 1");
    let (line, column, message, hint) = single(&text);
    assert_eq!((line, column), (line_of(&text, "oops"), 9));
    assert_eq!(
        message,
        "YAML syntax error: mapping values are not allowed in this context"
    );
    assert!(hint.contains("indentation"), "{hint}");

    let text = edit("accept: [pdf], max_size", "accept: [pdf, max_size");
    let (line, column, message, _) = single(&text);
    let row = line_of(&text, "[pdf, max_size");
    assert_eq!(
        (line, column),
        (
            row,
            text.lines().nth(row - 1).unwrap().find('[').unwrap() + 1
        )
    );
    assert_eq!(
        message,
        "YAML syntax error: mismatched bracket '[' closed by '}'"
    );
}

#[test]
fn unknown_key_with_suggestion() {
    let text = edit(
        "  closes: 2027-06-15",
        "  closes: 2027-06-15\n  clozes: 2027-06-16",
    );
    let (line, column, message, hint) = single(&text);
    assert_eq!((line, column), (line_of(&text, "clozes"), 3));
    assert_eq!(message, "unknown key `clozes` in `campaign`");
    assert_eq!(hint, "did you mean `closes`?");
}

#[test]
fn wrong_type_three_levels_deep() {
    let text = edit(
        "{ id: nationality, type: text, label: Nationality }",
        "{ id: nationality, type: text, label: Nationality, required: maybe }",
    );
    let (line, column, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "required: maybe"));
    assert_eq!(
        column,
        text.lines().nth(line - 1).unwrap().find("maybe").unwrap() + 1
    );
    assert_eq!(
        message,
        "`profile[0].fields[0].required` must be true or false, not a text"
    );
    assert!(hint.starts_with("write true or false here"), "{hint}");
}

#[test]
fn unknown_enum_value_with_suggestion() {
    let text = edit(
        "type: text, label: Nationality",
        "type: txt, label: Nationality",
    );
    let (_, _, message, hint) = single(&text);
    assert_eq!(
        message,
        "`txt` is not allowed as `profile[0].fields[0].type`"
    );
    assert_eq!(hint, "did you mean `text`?");
}

#[test]
fn missing_key() {
    let text = edit("  opens: 2027-03-01\n", "");
    let (line, _, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "  closes"));
    assert_eq!(message, "missing key `opens` in `campaign`");
    assert!(hint.starts_with("add `opens:`"), "{hint}");
}

#[test]
fn duplicate_yaml_keys_are_all_reported() {
    let text = edit("id: minimal", "id: minimal\nid: other").replace(
        "  closes: 2027-06-15",
        "  closes: 2027-06-15\n  closes: 2027-06-16",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].0, line_of(&text, "id: other"));
    assert_eq!(found[0].2, "duplicate key `id`");
    assert_eq!(found[1].0, line_of(&text, "closes: 2027-06-16"));
    assert_eq!(found[1].1, 3);
}

#[test]
fn duplicate_ids() {
    let text = edit(
        "    - { id: closed, label: Closed, final: true }",
        "    - { id: closed, label: Closed, final: true }\n    - { id: received, label: Again }",
    );
    let (line, column, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "id: received, label: Again"));
    assert_eq!(column, 13);
    assert_eq!(message, "duplicate state id `received`");
    assert!(
        hint.contains(&format!(
            "line {}",
            line_of(&text, "id: received, label: Received")
        )),
        "{hint}"
    );
}

#[test]
fn unknown_state_in_a_transition() {
    let text = edit("      to: received", "      to: recieved");
    let (line, column, message, hint) = single(&text);
    assert_eq!((line, column), (line_of(&text, "to: recieved"), 11));
    assert_eq!(message, "unknown state `recieved`");
    assert_eq!(hint, "did you mean `received`?");
}

#[test]
fn unknown_role_piece_mail_form_and_list() {
    let text = MINIMAL
        .replace("by: staff }", "by: staf }")
        .replace("pieces: [cv] }", "pieces: [cv, photo], form: extra }")
        .replace("mails: [{ mail: received }]", "mails: [{ mail: recieved }]")
        .replace(
            "{ id: nationality, type: text, label: Nationality }",
            "{ id: nationality, type: choice, label: Nationality, options_from: { list: countries } }",
        );
    let found = problems(&text);
    let messages: Vec<&str> = found.iter().map(|p| p.2.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "unknown list `countries`",
            "unknown piece `photo`",
            "unknown form `extra`",
            "unknown mail `recieved`",
            "unknown role `staf`",
        ]
    );
    assert_eq!(found[4].3, "did you mean `staff`?");
    assert_eq!(found[1].0, line_of(&text, "photo"));
}

#[test]
fn unreachable_state() {
    let text = edit(
        "    - { id: closed, label: Closed, final: true }",
        "    - { id: closed, label: Closed, final: true }\n    - { id: limbo, label: Limbo }",
    );
    let (line, column, message, _) = single(&text);
    assert_eq!((line, column), (line_of(&text, "limbo"), 13));
    assert_eq!(message, "state `limbo` cannot be reached from `draft`");
}

#[test]
fn transition_out_of_a_final_state() {
    let text = edit(
        "    - { id: close, label: Close, from: received, to: closed, by: staff }",
        "    - { id: close, label: Close, from: received, to: closed, by: staff }\n    - { id: reopen, label: Reopen, from: closed, to: received, by: staff }",
    );
    let (line, column, message, _) = single(&text);
    assert_eq!(line, line_of(&text, "from: closed"));
    assert_eq!(
        column,
        text.lines().nth(line - 1).unwrap().find("closed").unwrap() + 1
    );
    assert_eq!(
        message,
        "transition `reopen` leaves the final state `closed`"
    );
}

#[test]
fn expression_that_does_not_compile() {
    let text = edit(
        "when: \"candidature.missing_pieces.is_empty()\"",
        "when: \"candidature.missing_pieces.is_empty() &&\"",
    );
    let (line, _, message, _) = single(&text);
    assert_eq!(line, line_of(&text, "is_empty() &&"));
    assert!(
        message.starts_with("this expression does not compile"),
        "{message}"
    );
}

#[test]
fn expression_naming_an_unknown_field() {
    let text = edit(
        "when: \"candidature.missing_pieces.is_empty()\"",
        "when: \"profile.identity.natonality != 'FR'\"",
    );
    let (line, column, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "natonality"));
    assert_eq!(
        column,
        text.lines()
            .nth(line - 1)
            .unwrap()
            .find("natonality")
            .unwrap()
            + 1
    );
    assert_eq!(
        message,
        "`profile.identity.natonality`: unknown name `natonality`"
    );
    assert_eq!(hint, "did you mean `nationality`?");
}

#[test]
fn expression_naming_an_unknown_variable() {
    let text = edit(
        "when: \"candidature.missing_pieces.is_empty()\"",
        "when: \"candidat.missing_pieces.is_empty()\"",
    );
    let (_, _, message, hint) = single(&text);
    assert!(message.contains("Undefined variable"), "{message}");
    assert!(hint.contains("candidature"), "{hint}");
}

#[test]
fn template_that_does_not_compile() {
    let text = edit(
        "text: \"Hello {{ candidate.first_name }}.\"",
        "text: \"Hello {{ candidate.first_name }.\"",
    );
    let (line, _, message, _) = single(&text);
    assert_eq!(line, line_of(&text, "text: \"Hello"));
    assert!(
        message.starts_with("this template does not compile"),
        "{message}"
    );
}

#[test]
fn template_using_an_unknown_variable() {
    let text = edit(
        "text: \"Hello {{ candidate.first_name }}.\"",
        "text: \"Hello {{ candidate.firstname }}.\"",
    );
    let (line, column, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "firstname"));
    assert_eq!(
        column,
        text.lines()
            .nth(line - 1)
            .unwrap()
            .find("candidate.firstname")
            .unwrap()
            + 1
    );
    assert_eq!(
        message,
        "`candidate.firstname` is not a variable this mail can use"
    );
    assert_eq!(hint, "did you mean `first_name`?");
}

#[test]
fn a_piece_larger_than_a_document_is_refused() {
    let text = edit("max_size: 2MB", "max_size: 2GB");
    let (line, _, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "2GB"));
    assert!(message.contains("at most 100 MB"), "{message}");
    assert!(hint.contains("`100MB`"), "{hint}");
    assert_eq!(
        problems(&edit("max_size: 2MB", "max_size: 100MB")),
        Vec::new()
    );
}

#[test]
fn size_that_does_not_parse() {
    let text = edit("max_size: 2MB", "max_size: 2 megas");
    let (line, column, message, hint) = single(&text);
    assert_eq!(
        (line, column),
        (
            line_of(&text, "2 megas"),
            text.lines()
                .nth(line_of(&text, "2 megas") - 1)
                .unwrap()
                .find("2 megas")
                .unwrap()
                + 1
        )
    );
    assert_eq!(message, "`megas` is not a size unit");
    assert!(hint.contains("2MB"), "{hint}");
}

#[test]
fn invalid_date_and_campaign_order() {
    let text = edit("  opens: 2027-03-01", "  opens: 2027-02-30");
    let (line, column, message, _) = single(&text);
    assert_eq!((line, column), (line_of(&text, "2027-02-30"), 10));
    assert_eq!(message, "`2027-02-30` is not a valid date");

    let text = edit("  opens: 2027-03-01", "  opens: 2027-07-01");
    let (line, _, message, _) = single(&text);
    assert_eq!(line, line_of(&text, "closes: 2027-06-15"));
    assert_eq!(
        message,
        "the campaign closes (2027-06-15) before it opens (2027-07-01)"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = MINIMAL
        .replace("      to: received", "      to: recieved")
        .replace("max_size: 2MB", "max_size: lots")
        .replace("{{ candidate.first_name }}", "{{ candidate.nom }}");
    let found = problems(&text);
    assert_eq!(found.len(), 3, "{found:#?}");
    // Sorted by position in the file.
    assert!(found.windows(2).all(|pair| pair[0].0 <= pair[1].0));
}

#[test]
fn rendering_shows_the_location_the_line_and_a_caret() {
    let text = edit("      to: received", "      to: recieved");
    let Err(DefinitionError::Invalid(diagnostics)) = Definition::from_text("test.yaml", &text)
    else {
        panic!("expected problems");
    };
    let rendered = diagnostics.render();
    let line = line_of(&text, "to: recieved");
    assert!(
        rendered.contains(&format!("test.yaml:{line}:11")),
        "{rendered}"
    );
    assert!(rendered.contains("to: recieved"), "{rendered}");
    assert!(rendered.contains("^^^^^^^^"), "{rendered}");
    assert!(
        rendered.contains("help: did you mean `received`?"),
        "{rendered}"
    );
}

#[test]
fn problems_in_a_csv_list_point_into_the_csv_file() {
    let text = edit(
        "roles:",
        "lists:\n  countries: { file: data/countries.csv }\nroles:",
    );
    let mut bundle = Bundle::from_text("test.yaml", &text);
    let csv = "id,label\nFR,France\nDE,Germany\nFR,Francia\nIT,Italy,extra\n";
    bundle.files.insert("data/countries.csv".into(), csv.into());
    let Err(DefinitionError::Invalid(diagnostics)) = Definition::from_bundle(bundle.clone()) else {
        panic!("expected problems");
    };
    let found: Vec<(&str, usize, usize, &str)> = diagnostics
        .items()
        .iter()
        .map(|d| (d.file.as_str(), d.line, d.column, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [(
            "data/countries.csv",
            5,
            1,
            "this line has 3 values where the header names 2 columns"
        )]
    );

    bundle.files.insert(
        "data/countries.csv".into(),
        "id,label\nFR,France\nDE,Germany\nFR,Francia\n".into(),
    );
    let Err(DefinitionError::Invalid(diagnostics)) = Definition::from_bundle(bundle.clone()) else {
        panic!("expected problems");
    };
    let item = &diagnostics.items()[0];
    assert_eq!(
        (item.file.as_str(), item.line, item.column),
        ("data/countries.csv", 4, 1)
    );
    assert_eq!(item.message, "list `countries` has the key `FR` twice");

    bundle.files.clear();
    let Err(DefinitionError::Invalid(diagnostics)) = Definition::from_bundle(bundle) else {
        panic!("expected problems");
    };
    let item = &diagnostics.items()[0];
    let row = line_of(&text, "data/countries.csv");
    let column = text.lines().nth(row - 1).unwrap().find("data/").unwrap() + 1;
    assert_eq!((item.line, item.column), (row, column));
    assert_eq!(
        item.message,
        "cannot read the list file `data/countries.csv`"
    );
}

#[test]
fn lookups_name_known_lists_and_columns() {
    let text = edit(
        "roles:",
        "lists:\n  countries: { items: [{ id: FR, label: France, french: \"yes\" }] }\nroles:",
    )
    .replace(
        "when: \"candidature.missing_pieces.is_empty()\"",
        "when: \"lookup('countries', profile.identity.nationality, 'frensh') == 'yes'\"",
    );
    let (line, _, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "lookup("));
    assert_eq!(message, "unknown column of list `countries` `frensh`");
    assert_eq!(hint, "did you mean `french`?");
}

#[test]
fn scenarios_name_known_things() {
    let text = format!(
        "{MINIMAL}tests:\n  - name: t\n    steps:\n      - {{ apply: mastr }}\n      - {{ do: transmitt }}\n      - {{ expect: {{ state: sent, hidden: [identity.nationalty], complete: [identiti] }} }}\n"
    );
    let messages: Vec<String> = problems(&text).into_iter().map(|p| p.2).collect();
    assert_eq!(
        messages,
        [
            "unknown formation `mastr`",
            "unknown transition `transmitt`",
            "unknown state `sent`",
            "no field `identity.nationalty` in the profile",
            "unknown section `identiti`",
        ]
    );
}

#[test]
fn no_institution_is_written_into_the_rust_sources() {
    // Everything specific to OSU Pythéas lives in its definition file: its ids
    // never appear as string literals in the engine or the server.
    let definition = Definition::load(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../definitions/osu-pytheas.yaml"),
    )
    .unwrap();
    let spec = definition.file();
    let mut ids: Vec<&str> = Vec::new();
    ids.extend(spec.workflow.states.iter().map(|s| s.id.as_str()));
    ids.extend(spec.workflow.transitions.iter().map(|t| t.id.as_str()));
    ids.extend(spec.workflow.piece_statuses.iter().map(|s| s.id.as_str()));
    ids.extend(
        spec.workflow
            .piece_transitions
            .iter()
            .map(|t| t.id.as_str()),
    );
    ids.extend(spec.pieces.iter().map(|p| p.id.as_str()));
    ids.extend(spec.roles.iter().map(|r| r.id.as_str()));
    ids.extend(spec.mails.iter().map(|m| m.id.as_str()));
    ids.extend(spec.formations.iter().map(|f| f.id.as_str()));
    ids.extend(spec.profile.iter().map(|s| s.id.as_str()));
    let names = regex::Regex::new(r"(?i)\b(pyth[ée]as|osu|ecandidat|aix-marseille)\b").unwrap();
    let mut offences = Vec::new();
    for folder in ["src", "../server/src"] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut stack = vec![root];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            if let Some(found) = names.find(&text) {
                offences.push(format!("{}: {}", path.display(), found.as_str()));
            }
            for id in &ids {
                if text.contains(&format!("\"{id}\"")) {
                    offences.push(format!("{}: \"{id}\"", path.display()));
                }
            }
        }
    }
    assert!(ids.len() > 50, "the ids were collected");
    assert_eq!(offences, Vec::<String>::new());
}

#[test]
fn the_published_schema_is_up_to_date() {
    let committed = include_str!("../definitions/guichet.schema.json");
    assert!(
        committed == guichet_engine::json_schema_text(),
        "definitions/guichet.schema.json is stale: run `cargo run -- schema > definitions/guichet.schema.json`"
    );
    let overlay = include_str!("../definitions/guichet-overlay.schema.json");
    assert!(
        overlay == guichet_engine::overlay_json_schema_text(),
        "definitions/guichet-overlay.schema.json is stale: run `cargo run -- schema --overlay > definitions/guichet-overlay.schema.json`"
    );
}

#[test]
fn every_shipped_definition_is_valid() {
    for path in [
        "../definitions/osu-pytheas.yaml",
        "../examples/ecole-doctorale.yaml",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        if let Err(error) = Definition::load(&path) {
            panic!("{}: {error}", path.display());
        }
    }
}

#[test]
fn an_unknown_filter_in_any_language_of_a_mail_is_reported() {
    let text = edit(
        r#"    text: "Hello {{ candidate.first_name }}.""#,
        "    text:\n      fr: \"Bonjour {{ candidate.first_name | upper }}.\"\n      en: \"Hello {{ candidate.first_name | foo }}.\"",
    );
    let (line, _, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "| foo"));
    assert_eq!(message, "`foo` is not a filter templates know");
    assert!(hint.contains("built-in filters"), "{hint}");
    let unknown_test = edit(
        r#"    text: "Hello {{ candidate.first_name }}.""#,
        r#"    text: "{% if candidate.first_name is shiny %}Hello{% endif %}""#,
    );
    let (_, _, message, _) = single(&unknown_test);
    assert_eq!(message, "`shiny` is not a test templates know");
}

#[test]
fn an_unclosed_quote_is_shown_where_it_opens() {
    let text = edit(
        "  - { id: cv, label: CV, accept: [pdf], max_size: 2MB }",
        "  - { id: cv, label: CV, accept: [pdf], max_size: 2MB }\n  - broken: [unclosed, \"quote",
    );
    let found = problems(&text);
    let opened = line_of(&text, "\"quote");
    assert!(
        found
            .iter()
            .any(|(line, _, message, _)| *line == opened
                && message == "this quoted text is not closed"),
        "{found:#?}"
    );
    // Apostrophes inside words and quotes closed on their line point nowhere.
    assert_eq!(problems(MINIMAL), Vec::new());
}

#[test]
fn a_long_text_repeated_by_aliases_is_refused_before_it_fills_memory() {
    // 10 KB repeated 2,000 times: a 16 KB file that would expand to 20 MB.
    let aliases = vec!["*long"; 2000].join(", ");
    let text = format!(
        "{MINIMAL}\nnotes:\n  text: &long \"{}\"\n  copies: [{aliases}]\n",
        "x".repeat(10_000)
    );
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|(_, _, message, _)| message == "the document expands to more than 16 MB"),
        "{found:#?}"
    );
}

#[test]
fn what_a_staff_role_reads_names_known_sections_and_pieces() {
    let narrowed = edit(
        "kind: staff, address: office@example.org }",
        "kind: staff, address: office@example.org, reads: { sections: [identity], pieces: [cv] } }",
    );
    assert_eq!(problems(&narrowed), Vec::new());
    let unknown = edit(
        "kind: staff, address: office@example.org }",
        "kind: staff, address: office@example.org, reads: { sections: [identiy], pieces: [cv] } }",
    );
    let (line, _, message, hint) = single(&unknown);
    assert_eq!(line, line_of(&unknown, "reads:"));
    assert!(message.contains("identiy"), "{message}");
    assert!(hint.contains("identity"), "{hint}");
    let candidate = edit(
        "{ id: candidate, label: Candidate, kind: candidate }",
        "{ id: candidate, label: Candidate, kind: candidate, reads: { pieces: [cv] } }",
    );
    let (_, _, message, _) = single(&candidate);
    assert!(message.contains("only a staff role"), "{message}");
}

/// The minimal definition's staff role, and a system role to add beside it.
const STAFF_ROLE: &str =
    "  - { id: staff, label: Staff, kind: staff, address: office@example.org }";
const SYSTEM_ROLE: &str = "  - { id: system, label: Automatic, kind: system }";

/// `text` with the system role declared after the staff role.
fn with_system_role(text: &str) -> String {
    text.replace(STAFF_ROLE, &format!("{STAFF_ROLE}\n{SYSTEM_ROLE}"))
}

/// The scheduler handles deadlines as the system role: a reminder in a
/// procedure without one would never be sent.
#[test]
fn a_reminder_needs_a_system_role_to_send_it() {
    let reminder = edit(
        "    - { id: close, label: Close, from: received, to: closed, by: staff }",
        "    - { id: close, label: Close, from: received, to: closed, by: staff }
  deadlines:
    - { id: reminder, label: Reminder, in: received, after: 8 days, mail: received }",
    );
    let (line, _, message, hint) = single(&reminder);
    assert_eq!(line, line_of(&reminder, "id: reminder"));
    assert!(
        message.contains("`reminder` is handled automatically but no role has `kind: system`"),
        "{message}"
    );
    assert!(hint.contains("kind: system"), "{hint}");
    let with_system = with_system_role(&reminder);
    assert_eq!(problems(&with_system), Vec::new());
}

/// Staff lists show a state to the staff roles `visible_to` names: another
/// kind of role there would hide the state from every member.
#[test]
fn a_state_is_shown_to_staff_roles_only() {
    let shown = |roles: &str| {
        edit(
            "    - { id: received, label: Received }",
            &format!("    - {{ id: received, label: Received, visible_to: [{roles}] }}"),
        )
    };
    assert_eq!(problems(&shown("staff")), Vec::new());
    let to_candidate = shown("candidate");
    let (line, _, message, hint) = single(&to_candidate);
    assert_eq!(line, line_of(&to_candidate, "visible_to"));
    assert!(
        message.contains("`candidate`, which is not a staff role"),
        "{message}"
    );
    assert!(hint.contains("(staff)"), "{hint}");
    let (_, _, message, hint) = single(&shown("staf"));
    assert!(message.contains("unknown role `staf`"), "{message}");
    assert!(hint.contains("staff"), "{hint}");
}

/// A deadline's transition back into the deadline's own state starts its
/// count anew: it would run again and again, a mail each time.
#[test]
fn a_deadline_that_would_restart_itself_without_end_is_refused() {
    let looping = with_system_role(&edit(
        "    - { id: close, label: Close, from: received, to: closed, by: staff }",
        "    - { id: close, label: Close, from: received, to: closed, by: staff }
    - { id: again, label: Again, from: received, to: received, by: system, mails: [{ mail: received }] }
  deadlines:
    - { id: nudge, label: Nudge, in: received, after: 1 minute, do: again }",
    ));
    let (line, _, message, hint) = single(&looping);
    assert_eq!(line, line_of(&looping, "id: nudge"));
    assert!(
        message.contains("`nudge` runs `again`, which leads back to `received`")
            && message.contains("after 1 minute again, without end"),
        "{message}"
    );
    assert!(hint.contains("`when:`"), "{hint}");
    // A date past: at every pass.
    let dated = looping.replace("after: 1 minute", "at: 2027-04-01");
    let (_, _, message, _) = single(&dated);
    assert!(
        message.contains("at every pass of the scheduler"),
        "{message}"
    );
    // Leading elsewhere, or with a condition the transition can end: kept.
    let elsewhere = looping.replace("to: received, by: system", "to: closed, by: system");
    assert_eq!(problems(&elsewhere), Vec::new());
    let conditioned = looping.replace(
        "after: 1 minute, do: again",
        "after: 1 minute, do: again, when: \"candidature.data.nudged != true\"",
    );
    let conditioned = conditioned.replace(
        "by: system, mails: [{ mail: received }]",
        "by: system, mails: [{ mail: received }], set: { nudged: \"true\" }",
    );
    assert_eq!(problems(&conditioned), Vec::new());
}

/// A promotion that changes nothing of the promoted candidature leaves it
/// first on the waiting list: every place freed after would go to it.
#[test]
fn a_promotion_that_leaves_the_promoted_first_on_the_list_is_refused() {
    let promoting = with_system_role(&edit(
        "    - { id: close, label: Close, from: received, to: closed, by: staff }",
        "    - { id: close, label: Close, from: received, to: closed, by: staff, promote: { among: \"candidature.state == 'received'\", rank: \"1\", do: admit } }
    - { id: admit, label: Admit, from: received, to: received, by: system }",
    ));
    let (line, _, message, hint) = single(&promoting);
    assert_eq!(line, line_of(&promoting, "promote:"));
    assert!(
        message.contains("promotion `admit` leaves the promoted candidature in `received`")
            && message.contains("offered every place freed"),
        "{message}"
    );
    assert!(hint.contains("`set:`"), "{hint}");
    // Marked as promoted (and so off the list), or moved on: kept.
    let marked = promoting
        .replace(
            "to: received, by: system }",
            "to: received, by: system, set: { promoted: \"true\" } }",
        )
        .replace(
            "among: \"candidature.state == 'received'\"",
            "among: \"candidature.state == 'received' && candidature.data.promoted != true\"",
        );
    assert_ne!(marked, promoting);
    assert_eq!(problems(&marked), Vec::new());
    let moved = promoting.replace("to: received, by: system }", "to: closed, by: system }");
    assert_eq!(problems(&moved), Vec::new());
}

#[test]
fn a_deadline_may_fall_on_a_date_the_candidature_holds() {
    let with_input = with_system_role(&edit(
        "    - { id: close, label: Close, from: received, to: closed, by: staff }",
        "    - { id: close, label: Close, from: received, to: closed, by: staff }
    - { id: invite, label: Invite, from: received, to: received, by: staff, input: [{ id: interview, type: date, label: Interview }] }
  deadlines:
    - { id: reminder, label: Reminder, in: received, at: candidature.data.interview, before: 1 day, mail: received }",
    ));
    assert_eq!(problems(&with_input), Vec::new());
    let (line, _, message, hint) = single(&with_input.replace(
        "at: candidature.data.interview",
        "at: candidature.data.intervew",
    ));
    assert_eq!(line, line_of(&with_input, "at: candidature.data"));
    assert!(message.contains("intervew"), "{message}");
    assert!(hint.contains("interview"), "{hint}");
}

#[test]
fn dates_are_computed_by_functions_and_a_number_added_to_a_date_is_refused() {
    let definition = Definition::from_text("test.yaml", MINIMAL).unwrap();
    let context = serde_json::json!({"today": "2027-03-10"});
    let moved = definition.eval_value("add_days(today, 8)", &context);
    assert!(
        moved.is_err(),
        "not compiled with the definition: {moved:?}"
    );
    let set = edit(
        "    - { id: close, label: Close, from: received, to: closed, by: staff }",
        "    - { id: close, label: Close, from: received, to: closed, by: staff, set: { answer_by: \"add_days(today, 8)\", late: \"today + 8\" } }",
    );
    let definition = Definition::from_text("test.yaml", &set).unwrap();
    let value = definition
        .eval_value("add_days(today, 8)", &context)
        .unwrap();
    assert_eq!(value, "2027-03-18");
    let refused = definition.eval_value("today + 8", &context).unwrap_err();
    let causes = guichet_engine::with_causes(&refused);
    assert!(causes.contains("add_days(today, 7)"), "{causes}");
}

#[test]
fn a_mail_to_an_answer_names_an_email_field() {
    let with_referee = edit(
        "      - { id: nationality, type: text, label: Nationality }",
        "      - { id: nationality, type: text, label: Nationality }\n      - { id: referee, type: email, label: Referee }",
    );
    let to = |recipient: &str| {
        with_referee.replace(
            "  - id: received\n    subject:",
            &format!("  - id: received\n    to: [candidate, {recipient}]\n    subject:"),
        )
    };
    assert_eq!(problems(&to("profile.identity.referee")), Vec::new());
    let (_, _, message, _) = single(&to("profile.identity.nationality"));
    assert!(message.contains("is not an email address"), "{message}");
    let (_, _, message, hint) = single(&to("profile.identiy.referee"));
    assert!(message.contains("identiy"), "{message}");
    assert!(hint.contains("identity"), "{hint}");
}

#[test]
fn scenario_steps_name_their_candidates_and_sections() {
    let text = format!(
        "{MINIMAL}tests:\n  - name: two candidates\n    candidates:\n      bruno: {{ language: en }}\n    steps:\n      - {{ candidate: bruno, apply: master }}\n      - {{ candidate: brunot, save: {{ identiy: {{}} }} }}\n"
    );
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].2.contains("brunot") && found[0].3.contains("bruno"),
        "{found:#?}"
    );
    assert!(
        found[1].2.contains("identiy") && found[1].3.contains("identity"),
        "{found:#?}"
    );
}

#[test]
fn a_scenario_speaks_a_language_of_the_definition() {
    let text = format!("{MINIMAL}tests:\n  - name: in German\n    language: de\n    steps: []\n");
    let (line, _, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "language: de"));
    assert!(message.contains("`de`"), "{message}");
    assert!(hint.contains("fr, en"), "{hint}");
}

#[test]
fn a_third_party_names_its_section_fields_piece_and_mail() {
    let referee = "  - { id: referee, label: Referee, kind: third_party, named_in: { section: identity, name: nationality, email: nationality }, provides: cv, mail: received }\n";
    let text = edit(
        "  - { id: staff, label: Staff, kind: staff, address: office@example.org }\n",
        &format!("  - {{ id: staff, label: Staff, kind: staff, address: office@example.org }}\n{referee}"),
    );
    let (line, _, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "id: referee"));
    assert!(
        message.contains("`nationality` is not of type `email`"),
        "{message}"
    );
    assert!(hint.contains("type: email"), "{hint}");

    let wrong = text
        .replace("provides: cv", "provides: cvv")
        .replace(", mail: received }", ", mail: recieved }")
        .replace("section: identity", "section: identty");
    let found = problems(&wrong);
    let messages: Vec<&str> = found.iter().map(|p| p.2.as_str()).collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("unknown section `identty`")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("unknown piece `cvv`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("unknown mail `recieved`")),
        "{messages:?}"
    );

    let bare = text.replace(
        ", named_in: { section: identity, name: nationality, email: nationality }, provides: cv, mail: received",
        "",
    );
    let found = problems(&bare);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found.iter().all(|p| p.2.starts_with("a third party needs")),
        "{found:#?}"
    );

    let staff_keys = edit(
        "kind: staff, address: office@example.org }",
        "kind: staff, address: office@example.org, provides: cv }",
    );
    let (_, _, message, hint) = single(&staff_keys);
    assert!(
        message.contains("only a third party has `provides:`"),
        "{message}"
    );
    assert!(hint.contains("kind: third_party"), "{hint}");
}

/// Loads `files` (name, text) written in a fresh folder: the first one.
fn load_files(files: &[(&str, &str)]) -> Result<Definition, DefinitionError> {
    let folder = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = folder.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    Definition::load(folder.path().join(files[0].0))
}

fn diagnostics_of(result: Result<Definition, DefinitionError>) -> Vec<(String, usize, String)> {
    match result {
        Ok(_) => Vec::new(),
        Err(DefinitionError::Invalid(diagnostics)) => diagnostics
            .items()
            .iter()
            .map(|d| {
                (
                    d.file.rsplit('/').next().unwrap().to_owned(),
                    d.line,
                    d.message.clone(),
                )
            })
            .collect(),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[test]
fn an_overlay_changes_its_base_by_id_and_key() {
    let overlay = "guichet: 1\nextends: base/minimal.yaml\nid: variant\ncampaign: { closes: 2027-07-01 }\nformations:\n  - { id: master, capacity: 12 }\n  - { id: doctorate, title: Doctorate, pieces: [cv] }\npieces:\n  - { id: cv, max_size: 5MB }\nmails:\n  - { id: received, remove: true }\nworkflow:\n  transitions:\n    - { id: transmit, mails: [] }\n";
    let definition = load_files(&[("variant.yaml", overlay), ("base/minimal.yaml", MINIMAL)])
        .unwrap_or_else(|e| panic!("{e}"));
    let file = definition.file();
    assert_eq!(file.id, "variant", "a scalar is replaced");
    assert_eq!(
        file.campaign.opens, "2027-03-01",
        "a mapping merges key by key"
    );
    assert_eq!(file.campaign.closes, "2027-07-01");
    let ids: Vec<&str> = file.formations.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        ["master", "doctorate"],
        "new ids come after the base's"
    );
    let master = definition.formation("master").unwrap();
    assert_eq!(
        (master.title.get("fr"), master.capacity),
        ("Master", Some(12))
    );
    assert_eq!(definition.max_size("cv"), Some(5_000_000));
    assert!(
        definition.mail("received").is_none(),
        "`remove: true` takes it out"
    );
    assert_eq!(definition.transition("transmit").unwrap().to, "received");

    // What `guichet check --merged` prints reads back as the same definition.
    let merged = definition.merged_text();
    assert!(
        !merged.contains("extends") && !merged.contains("remove"),
        "{merged}"
    );
    let again =
        Definition::from_text("merged.yaml", &merged).unwrap_or_else(|e| panic!("{e}\n{merged}"));
    assert_eq!(
        serde_json::to_value(again.file()).unwrap(),
        serde_json::to_value(definition.file()).unwrap()
    );
}

#[test]
fn problems_of_an_overlay_are_reported_in_the_file_that_wrote_them() {
    // A mistake in the overlay: at its line in the overlay.
    let overlay =
        "guichet: 1\nextends: minimal.yaml\nformations:\n  - { id: master, pieces: [cvv] }\n";
    let found = diagnostics_of(load_files(&[
        ("variant.yaml", overlay),
        ("minimal.yaml", MINIMAL),
    ]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].0.as_str(), found[0].1),
        ("variant.yaml", 4),
        "{found:?}"
    );
    assert!(found[0].2.contains("unknown piece `cvv`"), "{found:?}");

    // A mistake the base holds: at its line in the base.
    let broken_base = MINIMAL.replace("to: closed, by: staff", "to: clossed, by: staff");
    let overlay = "guichet: 1\nextends: minimal.yaml\nid: variant\n";
    let found = diagnostics_of(load_files(&[
        ("variant.yaml", overlay),
        ("minimal.yaml", &broken_base),
    ]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "minimal.yaml", "{found:?}");
    assert_eq!(found[0].1, line_of(&broken_base, "clossed"), "{found:?}");

    // A base that is not there, and bases that extend each other.
    let found = diagnostics_of(load_files(&[(
        "variant.yaml",
        "guichet: 1\nextends: nowhere.yaml\n",
    )]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, 2, "{found:?}");
    assert!(found[0].2.contains("could not be read"), "{found:?}");
    let circle = diagnostics_of(load_files(&[
        ("a.yaml", "guichet: 1\nextends: b.yaml\n"),
        ("b.yaml", "guichet: 1\nextends: a.yaml\n"),
    ]));
    assert_eq!(circle.len(), 1, "{circle:?}");
    assert!(circle[0].2.contains("in a circle"), "{circle:?}");
}

#[test]
fn letters_are_checked_like_mails_and_only_go_to_the_candidate() {
    let letter = "\nletters:\n  - id: admission\n    title: \"Admission to {{ formation.title }}\"\n    text: \"Dear {{ candidate.first_name }}, {{ dossier.id }}\"\n";
    let valid = edit(
        "    text: \"Hello {{ candidate.first_name }}.\"",
        &format!("    text: \"Hello {{{{ candidate.first_name }}}}.\"\n    letters: [admission]{letter}signature:\n  name: The dean\n"),
    );
    assert_eq!(problems(&valid), Vec::new());

    // A letter the file does not have, named where the mail names it.
    let text = valid.replace("letters: [admission]", "letters: [admision]");
    let (line, _, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "[admision]"));
    assert_eq!(message, "unknown letter `admision`");
    assert!(hint.contains("admission"), "{hint}");

    // Its templates read what a candidature's mail reads, nothing else.
    let text = valid.replace(
        "{{ candidate.first_name }}, ",
        "{{ candidate.frist_name }}, ",
    );
    let (line, _, message, hint) = single(&text);
    assert_eq!(line, line_of(&text, "frist_name"));
    assert_eq!(
        message,
        "`candidate.frist_name` is not a variable this letter can use"
    );
    assert!(hint.contains("first_name"), "{hint}");
    let text = valid.replace(
        "{{ formation.title }}\"\n    text: \"Dear",
        "{{ formation.title }\"\n    text: \"Dear",
    );
    let (_, _, message, _) = single(&text);
    assert!(message.contains("does not compile"), "{message}");

    // A letter never goes in an account's mail, nor in a third party's.
    let text = valid.replace(
        "    letters: [admission]",
        "    letters: [admission]\n    about: account",
    );
    let found = problems(&text);
    assert!(
        found.iter().any(
            |(line, _, message, _)| *line == line_of(&text, "letters: [admission]")
                && message.contains("is about an account")
        ),
        "{found:#?}"
    );
}

#[test]
fn migrate_mappings_name_this_files_statuses_pieces_and_fields() {
    let text = format!(
        "{MINIMAL}migrate:\n  states: {{ sent: recieved }}\n  pieces: {{ resume: cv }}\n  fields: {{ identity.country: identity.nationalty }}\n  defaults: {{ identity.nationality: FR }}\n"
    );
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].0, line_of(&text, "recieved"));
    assert_eq!(found[0].2, "unknown state `recieved`");
    assert!(found[0].3.contains("received"), "{:?}", found[0]);
    assert_eq!(found[1].0, line_of(&text, "identity.nationalty"));
    assert_eq!(found[1].2, "unknown field `identity.nationalty`");
    assert!(
        found[1].3.contains("identity.nationality"),
        "{:?}",
        found[1]
    );
}
