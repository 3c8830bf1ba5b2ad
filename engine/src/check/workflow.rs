//! Roles, statuses, transitions, piece statuses and transitions, and deadlines:
//! every reference resolves, every status is reachable.

use std::collections::{BTreeSet, VecDeque};

use super::{identifier, Checker};
use crate::context::shape::{self, Shape};
use crate::model::{DeadlineDef, FieldType, MailSubject, OneOrMany, RoleDef, RoleKind};
use crate::units::parse_duration;
use crate::yaml::escape_segment;

impl Checker<'_> {
    pub(super) fn roles(&mut self) {
        let roles = &self.def.roles;
        self.unique("/roles", "role", roles.iter().map(|r| r.id.as_str()));
        let sections: Vec<&str> = self.def.profile.iter().map(|s| s.id.as_str()).collect();
        let pieces: Vec<&str> = self.def.pieces.iter().map(|p| p.id.as_str()).collect();
        for (index, role) in roles.iter().enumerate() {
            self.identifier(&format!("/roles/{index}/id"), &role.id);
            self.third_party_role(index, role, &pieces);
            let Some(reads) = &role.reads else {
                continue;
            };
            if role.kind != RoleKind::Staff {
                self.error(
                    &format!("/roles/{index}/reads"),
                    "only a staff role's reading can be narrowed",
                    "remove `reads:`, or give the role `kind: staff`",
                );
            }
            let lists = [
                ("sections", "section", &reads.sections, &sections),
                ("pieces", "piece", &reads.pieces, &pieces),
            ];
            for (key, what, ids, known) in lists {
                for (i, id) in ids.iter().flatten().enumerate() {
                    if !known.contains(&id.as_str()) {
                        self.unknown(&format!("/roles/{index}/reads/{key}/{i}"), what, id, known);
                    }
                }
            }
        }
        if !roles.iter().any(|r| r.kind == RoleKind::Candidate) {
            self.error(
                "/roles",
                "no role has `kind: candidate`",
                "declare the role candidates act with, e.g. `{ id: candidate, label: Candidat, kind: candidate }`",
            );
        }
        if roles.iter().filter(|r| r.kind == RoleKind::System).count() > 1 {
            self.error(
                "/roles",
                "more than one role has `kind: system`",
                "deadlines act as one system role; keep one",
            );
        }
    }

    /// A third party is named in a section and provides a piece through a
    /// mailed link; no other kind of role has these keys.
    fn third_party_role(&mut self, index: usize, role: &RoleDef, pieces: &[&str]) {
        let at = |key: &str| format!("/roles/{index}/{key}");
        if role.kind != RoleKind::ThirdParty {
            let keys = [
                ("named_in", role.named_in.is_some()),
                ("provides", role.provides.is_some()),
                ("mail", role.mail.is_some()),
                ("link_valid_days", role.link_valid_days.is_some()),
            ];
            for (key, present) in keys {
                if present {
                    self.error(
                        &at(key),
                        format!("only a third party has `{key}:`"),
                        "remove it, or give the role `kind: third_party`",
                    );
                }
            }
            return;
        }
        match &role.named_in {
            None => self.error(
                &format!("/roles/{index}"),
                "a third party needs `named_in:`, the section where the candidate names them",
                "add e.g. `named_in: { section: referees, name: name, email: email }`",
            ),
            Some(named) => {
                let sections: Vec<&str> = self.def.profile.iter().map(|s| s.id.as_str()).collect();
                match self.def.profile.iter().find(|s| s.id == named.section) {
                    None => self.unknown(
                        &at("named_in/section"),
                        "section",
                        &named.section,
                        &sections,
                    ),
                    Some(section) => {
                        let fields: Vec<&str> =
                            section.fields.iter().map(|f| f.id.as_str()).collect();
                        for (key, id) in [("name", &named.name), ("email", &named.email)] {
                            if !fields.contains(&id.as_str()) {
                                self.unknown(&at(&format!("named_in/{key}")), "field", id, &fields);
                            }
                        }
                        let email = section.fields.iter().find(|f| f.id == named.email);
                        if email.is_some_and(|f| f.kind != FieldType::Email) {
                            self.error(
                                &at("named_in/email"),
                                format!("field `{}` is not of type `email`", named.email),
                                "links are mailed to this field: give it `type: email`",
                            );
                        }
                    }
                }
            }
        }
        match &role.provides {
            None => self.error(
                &format!("/roles/{index}"),
                "a third party needs `provides:`, the piece they send",
                "add e.g. `provides: reference_letter`",
            ),
            Some(piece) if !pieces.contains(&piece.as_str()) => {
                self.unknown(&at("provides"), "piece", piece, pieces)
            }
            Some(piece) => {
                let providers = self.def.roles.iter().filter(|r| {
                    r.kind == RoleKind::ThirdParty && r.provides.as_ref() == Some(piece)
                });
                if providers.count() > 1 {
                    self.error(
                        &at("provides"),
                        format!("piece `{piece}` is provided by more than one third party"),
                        "give each third party a piece of its own",
                    );
                }
            }
        }
        match &role.mail {
            None => self.error(
                &format!("/roles/{index}"),
                "a third party needs `mail:`, the mail carrying their link",
                "add a mail that uses `{{ third_party.link }}` and name it in `mail:`",
            ),
            Some(mail) => {
                let mails: Vec<&str> = self.def.mails.iter().map(|m| m.id.as_str()).collect();
                match self.def.mails.iter().find(|m| &m.id == mail) {
                    None => self.unknown(&at("mail"), "mail", mail, &mails),
                    Some(def) if def.about != MailSubject::Candidature => self.error(
                        &at("mail"),
                        format!("mail `{mail}` is about an account, not a candidature"),
                        "remove its `about: account`",
                    ),
                    Some(_) => {}
                }
            }
        }
        if role.link_valid_days == Some(0) {
            self.error(
                &at("link_valid_days"),
                "a link valid 0 days could never be used",
                "give at least 1 day",
            );
        }
    }

    /// Checks every id of `ids` is among `known`; `what` names the kind of thing.
    pub(super) fn refs(&mut self, pointer: &str, ids: &OneOrMany, what: &str, known: &[&str]) {
        for (i, id) in ids.ids().into_iter().enumerate() {
            if !known.contains(&id) {
                let at = match ids {
                    OneOrMany::One(_) => pointer.to_owned(),
                    OneOrMany::Many(_) => format!("{pointer}/{i}"),
                };
                self.unknown(&at, what, id, known);
            }
        }
    }

    pub(super) fn role_refs(&mut self, pointer: &str, by: &OneOrMany) {
        let def = self.def;
        let known: Vec<&str> = def.roles.iter().map(|r| r.id.as_str()).collect();
        self.refs(pointer, by, "role", &known);
    }

    pub(super) fn state_refs(&mut self, pointer: &str, ids: &OneOrMany) {
        let def = self.def;
        let known: Vec<&str> = def.workflow.states.iter().map(|s| s.id.as_str()).collect();
        self.refs(pointer, ids, "state", &known);
    }

    pub(super) fn piece_status_refs(&mut self, pointer: &str, ids: &OneOrMany) {
        let def = self.def;
        let statuses = &def.workflow.piece_statuses;
        let known: Vec<&str> = statuses.iter().map(|s| s.id.as_str()).collect();
        self.refs(pointer, ids, "piece status", &known);
    }

    pub(super) fn states(&mut self) {
        let states = &self.def.workflow.states;
        self.unique(
            "/workflow/states",
            "state",
            states.iter().map(|s| s.id.as_str()),
        );
        for (index, state) in states.iter().enumerate() {
            self.identifier(&format!("/workflow/states/{index}/id"), &state.id);
            self.text(&format!("/workflow/states/{index}/label"), &state.label);
            for (r, role) in state.visible_to.iter().enumerate() {
                let pointer = format!("/workflow/states/{index}/visible_to/{r}");
                let ids = |kind: Option<RoleKind>| -> Vec<&str> {
                    let roles = self.def.roles.iter();
                    let roles = roles.filter(|r| kind.is_none_or(|kind| r.kind == kind));
                    roles.map(|r| r.id.as_str()).collect()
                };
                match self.def.roles.iter().find(|known| &known.id == role) {
                    None => self.unknown(&pointer, "role", role, &ids(None)),
                    // Staff lists are the staff's: a state shown to another
                    // kind of role would be shown to nobody.
                    Some(known) if known.kind != RoleKind::Staff => self.error(
                        &pointer,
                        format!(
                            "state `{}` is shown to `{role}`, which is not a staff role: staff lists show states to staff roles only",
                            state.id
                        ),
                        format!(
                            "name staff roles here ({})",
                            ids(Some(RoleKind::Staff)).join(", ")
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        let initial: Vec<usize> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.initial)
            .map(|(i, _)| i)
            .collect();
        match initial.as_slice() {
            [] => self.error(
                "/workflow/states",
                "no state is marked `initial: true`",
                "mark the state new candidatures start in with `initial: true`",
            ),
            [_] => {}
            [_, rest @ ..] => {
                for index in rest {
                    self.error(
                        &format!("/workflow/states/{index}/initial"),
                        "more than one state is marked initial",
                        "candidatures start in one state: keep `initial: true` on one",
                    );
                }
            }
        }
        // Every state must be reachable from the initial one. An unknown state in
        // a transition is reported there; reporting what it makes unreachable too
        // would only bury the cause.
        let known = |id: &str| states.iter().any(|s| s.id == id);
        let all_resolve = self
            .def
            .workflow
            .transitions
            .iter()
            .all(|t| known(&t.to) && t.from.ids().into_iter().all(known));
        let Some(start) = initial.first().map(|&i| states[i].id.as_str()) else {
            return;
        };
        if !all_resolve {
            return;
        }
        let mut reached: BTreeSet<&str> = BTreeSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(state) = queue.pop_front() {
            for transition in &self.def.workflow.transitions {
                if transition.from.contains(state) && reached.insert(&transition.to) {
                    queue.push_back(&transition.to);
                }
            }
        }
        for (index, state) in states.iter().enumerate() {
            if !reached.contains(state.id.as_str()) {
                self.error(
                    &format!("/workflow/states/{index}/id"),
                    format!("state `{}` cannot be reached from `{start}`", state.id),
                    format!(
                        "add a transition with `to: {}` from a reachable state, or remove the state",
                        state.id
                    ),
                );
            }
        }
    }

    pub(super) fn transitions(&mut self) {
        let def = self.def;
        let transitions = &def.workflow.transitions;
        let all_ids = transitions
            .iter()
            .map(|t| t.id.as_str())
            .chain(def.workflow.piece_transitions.iter().map(|t| t.id.as_str()));
        self.unique("/workflow/transitions", "transition", all_ids);
        for (index, transition) in transitions.iter().enumerate() {
            let at = format!("/workflow/transitions/{index}");
            self.identifier(&format!("{at}/id"), &transition.id);
            self.text(&format!("{at}/label"), &transition.label);
            self.state_refs(&format!("{at}/from"), &transition.from);
            self.state_refs(&format!("{at}/to"), &OneOrMany::One(transition.to.clone()));
            self.role_refs(&format!("{at}/by"), &transition.by);
            for (i, from) in transition.from.ids().into_iter().enumerate() {
                if def
                    .workflow
                    .states
                    .iter()
                    .any(|s| s.id == from && s.is_final)
                {
                    let pointer = match &transition.from {
                        OneOrMany::One(_) => format!("{at}/from"),
                        OneOrMany::Many(_) => format!("{at}/from/{i}"),
                    };
                    self.error(
                        &pointer,
                        format!("transition `{}` leaves the final state `{from}`", transition.id),
                        format!("a final state is an end: remove `{from}` from `from`, or remove `final: true` from it"),
                    );
                }
            }
            let shape = shape::transition_shape(def, &transition.input);
            if let Some(when) = &transition.when {
                self.expression(&format!("{at}/when"), when, &shape);
            }
            let input_shape = shape::section_shape(def, &transition.input);
            self.fields(&format!("{at}/input"), &transition.input, &input_shape);
            for (key, expression) in &transition.set {
                let pointer = format!("{at}/set/{}", escape_segment(key));
                if !identifier().is_match(key) {
                    self.error_at_key(
                        &pointer,
                        format!("`{key}` is not a valid data key"),
                        "use lowercase letters, digits and `_`",
                    );
                }
                self.expression(&pointer, expression, &shape);
            }
            for (p, effect) in transition.pieces.iter().enumerate() {
                self.piece_status_refs(&format!("{at}/pieces/{p}/from"), &effect.from);
                self.piece_status_refs(
                    &format!("{at}/pieces/{p}/to"),
                    &OneOrMany::One(effect.to.clone()),
                );
            }
            self.mail_effects(&format!("{at}/mails"), &transition.mails, &shape);
            if let Some(promote) = &transition.promote {
                let candidature = shape::candidature_shape(def);
                self.expression(&format!("{at}/promote/among"), &promote.among, &candidature);
                self.expression(&format!("{at}/promote/rank"), &promote.rank, &candidature);
                self.system_transition(&format!("{at}/promote/do"), &promote.action, None);
                self.promoted_leaves_the_list(&format!("{at}/promote/do"), &promote.action);
            }
        }
        let shape = shape::candidature_shape(def);
        self.mail_effects(
            "/workflow/on_apply/mails",
            &def.workflow.on_apply.mails,
            &shape,
        );
    }

    pub(super) fn mail_effects(
        &mut self,
        base: &str,
        effects: &[crate::model::MailEffect],
        shape: &Shape,
    ) {
        let def = self.def;
        let mails: Vec<&str> = def.mails.iter().map(|m| m.id.as_str()).collect();
        for (m, effect) in effects.iter().enumerate() {
            let pointer = format!("{base}/{m}");
            match def.mails.iter().find(|mail| mail.id == effect.mail) {
                None => self.unknown(&format!("{pointer}/mail"), "mail", &effect.mail, &mails),
                Some(mail) if mail.about != MailSubject::Candidature => self.error(
                    &format!("{pointer}/mail"),
                    format!("mail `{}` is about an account, not a candidature", mail.id),
                    "use a mail with `about: candidature` (the default)",
                ),
                Some(_) => {}
            }
            if let Some(when) = &effect.when {
                self.expression(&format!("{pointer}/when"), when, shape);
            }
        }
    }

    pub(super) fn piece_workflow(&mut self) {
        let def = self.def;
        let statuses = &def.workflow.piece_statuses;
        self.unique(
            "/workflow/piece_statuses",
            "piece status",
            statuses.iter().map(|s| s.id.as_str()),
        );
        for (index, status) in statuses.iter().enumerate() {
            self.identifier(&format!("/workflow/piece_statuses/{index}/id"), &status.id);
        }
        match statuses.iter().filter(|s| s.initial).count() {
            1 => {}
            0 => self.error(
                "/workflow/piece_statuses",
                "no piece status is marked `initial: true`",
                "mark the status a piece has before anything is uploaded with `initial: true`",
            ),
            _ => self.error(
                "/workflow/piece_statuses",
                "more than one piece status is marked initial",
                "keep `initial: true` on one",
            ),
        }
        let shape = shape::piece_transition_shape(def);
        for (index, transition) in def.workflow.piece_transitions.iter().enumerate() {
            let at = format!("/workflow/piece_transitions/{index}");
            self.identifier(&format!("{at}/id"), &transition.id);
            self.piece_status_refs(&format!("{at}/from"), &transition.from);
            self.piece_status_refs(&format!("{at}/to"), &OneOrMany::One(transition.to.clone()));
            self.role_refs(&format!("{at}/by"), &transition.by);
            if let Some(when) = &transition.when {
                self.expression(&format!("{at}/when"), when, &shape);
            }
        }
    }

    pub(super) fn duration(&mut self, pointer: &str, text: &str) {
        match parse_duration(text) {
            Ok(span) => {
                self.durations.insert(text.to_owned(), span);
            }
            Err(message) => self.error(
                pointer,
                message,
                "write a duration such as `8 days`, `48 hours` or `2 weeks`",
            ),
        }
    }

    /// The `migrate:` mappings name this file's statuses, pieces and fields.
    pub(super) fn migrations(&mut self) {
        let def = self.def;
        let mappings = &def.migrate;
        let states: Vec<&str> = def.workflow.states.iter().map(|s| s.id.as_str()).collect();
        for (from, to) in &mappings.states {
            if !states.contains(&to.as_str()) {
                let pointer = format!("/migrate/states/{}", escape_segment(from));
                self.unknown(&pointer, "state", to, &states);
            }
        }
        let pieces: Vec<&str> = def.pieces.iter().map(|p| p.id.as_str()).collect();
        for (from, to) in &mappings.pieces {
            if !pieces.contains(&to.as_str()) {
                let pointer = format!("/migrate/pieces/{}", escape_segment(from));
                self.unknown(&pointer, "piece", to, &pieces);
            }
        }
        let fields: Vec<String> = def
            .profile
            .iter()
            .flat_map(|s| s.fields.iter().map(move |f| format!("{}.{}", s.id, f.id)))
            .collect();
        let known: Vec<&str> = fields.iter().map(String::as_str).collect();
        let named = mappings
            .fields
            .iter()
            .map(|(from, to)| (format!("/migrate/fields/{}", escape_segment(from)), to))
            .chain(mappings.defaults.keys().map(|field| {
                (
                    format!("/migrate/defaults/{}", escape_segment(field)),
                    field,
                )
            }));
        for (pointer, field) in named.collect::<Vec<_>>() {
            if !known.contains(&field.as_str()) {
                self.unknown(&pointer, "field", field, &known);
            }
        }
        for from in mappings.fields.keys() {
            if from.split_once('.').is_none() {
                self.error_at_key(
                    &format!("/migrate/fields/{}", escape_segment(from)),
                    format!("`{from}` does not name a field"),
                    "write `section.field`, as the earlier version named it",
                );
            }
        }
    }

    pub(super) fn deadlines(&mut self) {
        let def = self.def;
        let deadlines = &def.workflow.deadlines;
        self.unique(
            "/workflow/deadlines",
            "deadline",
            deadlines.iter().map(|d| d.id.as_str()),
        );
        let shape = shape::candidature_shape(def);
        let mails: Vec<&str> = def.mails.iter().map(|m| m.id.as_str()).collect();
        let has_system_role = def.roles.iter().any(|r| r.kind == RoleKind::System);
        for (index, deadline) in deadlines.iter().enumerate() {
            let at = format!("/workflow/deadlines/{index}");
            self.identifier(&format!("{at}/id"), &deadline.id);
            self.state_refs(&format!("{at}/in"), &deadline.states);
            if let Some(when) = &deadline.when {
                self.expression(&format!("{at}/when"), when, &shape);
            }
            match (&deadline.at, &deadline.after) {
                (Some(_), Some(_)) | (None, None) => self.error(
                    &at,
                    format!("deadline `{}` needs exactly one of `at` or `after`", deadline.id),
                    "give a date (`at: 2027-07-10` or `at: campaign.closes`) or a delay (`after: 8 days`)",
                ),
                (Some(date), None) => {
                    if let Some(field) = deadline.held_date() {
                        self.data_date(&format!("{at}/at"), field);
                    } else if date != "campaign.closes" && date != "campaign.opens" {
                        self.date(&format!("{at}/at"), date);
                    }
                }
                (None, Some(after)) => self.duration(&format!("{at}/after"), after),
            }
            if let Some(before) = &deadline.before {
                self.duration(&format!("{at}/before"), before);
            }
            if deadline.action.is_none() && deadline.mail.is_none() {
                self.error(
                    &at,
                    format!("deadline `{}` does nothing", deadline.id),
                    "give `do: <transition>` or `mail: <mail>` (or both)",
                );
            }
            if let Some(action) = &deadline.action {
                self.system_transition(&format!("{at}/do"), action, Some(&deadline.states));
                self.not_its_own_restart(&format!("{at}/do"), deadline, action);
            }
            if let Some(mail) = &deadline.mail {
                if !mails.contains(&mail.as_str()) {
                    self.unknown(&format!("{at}/mail"), "mail", mail, &mails);
                }
                // The scheduler handles every deadline as the system role: a
                // reminder without one would never be sent. (A `do:` says so
                // already through its transition.)
                if deadline.action.is_none() && !has_system_role {
                    self.error(
                        &format!("{at}/mail"),
                        format!(
                            "deadline `{}` is handled automatically but no role has `kind: system`",
                            deadline.id
                        ),
                        "declare `{ id: system, label: Automatique, kind: system }` among the roles",
                    );
                }
            }
        }
    }

    /// Checks that `deadline`'s transition `action` does not lead back into
    /// one of the deadline's states while nothing can end it: a transition
    /// starts the deadline's count anew, so it would run again after its
    /// delay (or, its date past, at the scheduler's next pass), without end,
    /// with its mails each time. A `when:` the transition can make false
    /// ends it, and is left to the author.
    fn not_its_own_restart(&mut self, pointer: &str, deadline: &DeadlineDef, action: &str) {
        let transitions = &self.def.workflow.transitions;
        let Some(transition) = transitions.iter().find(|t| t.id == action) else {
            return;
        };
        if deadline.when.is_some() || !deadline.states.contains(transition.to.as_str()) {
            return;
        }
        let again = match &deadline.after {
            Some(after) => format!("after {after} again"),
            None => "at every pass of the scheduler, its date being past".to_owned(),
        };
        self.error(
            pointer,
            format!(
                "deadline `{}` runs `{action}`, which leads back to `{}`, where the deadline counts anew: it would run {again}, without end",
                deadline.id, transition.to
            ),
            format!(
                "make `{action}` lead to a state the deadline is not `in:`, or give the deadline a `when:` that `{action}` makes false (with its `set:`)"
            ),
        );
    }

    /// Checks that a promotion's transition `action` can take the promoted
    /// candidature off the waiting list: one that leads back to a state it
    /// starts from and changes nothing of the candidature leaves `among` as
    /// true as it was, so the same candidature would head the list again and
    /// be offered every place freed after, the others never.
    fn promoted_leaves_the_list(&mut self, pointer: &str, action: &str) {
        let transitions = &self.def.workflow.transitions;
        let Some(transition) = transitions.iter().find(|t| t.id == action) else {
            return;
        };
        let changes_something = !transition.set.is_empty()
            || !transition.input.is_empty()
            || !transition.pieces.is_empty();
        if changes_something || !transition.from.contains(transition.to.as_str()) {
            return;
        }
        self.error(
            pointer,
            format!(
                "promotion `{action}` leaves the promoted candidature in `{}`, where `{action}` starts from, and changes nothing of it: it would stay first on the waiting list and be offered every place freed",
                transition.to
            ),
            format!(
                "give `{action}` a `set:` that makes the promotion's `among` false, or a `to:` it does not start from"
            ),
        );
    }

    /// Checks `field` is a value transitions give a candidature (an input or
    /// a `set`), for a deadline's `at: candidature.data.<field>`.
    fn data_date(&mut self, pointer: &str, field: &str) {
        let transitions = &self.def.workflow.transitions;
        let mut known: Vec<&str> = transitions
            .iter()
            .flat_map(|t| {
                t.input
                    .iter()
                    .map(|f| f.id.as_str())
                    .chain(t.set.keys().map(String::as_str))
            })
            .collect();
        known.sort_unstable();
        known.dedup();
        if !known.contains(&field) {
            self.unknown(pointer, "value of `candidature.data`", field, &known);
        }
    }

    /// Checks `action` is a transition the system role may perform (from `states`, if given).
    pub(super) fn system_transition(
        &mut self,
        pointer: &str,
        action: &str,
        states: Option<&OneOrMany>,
    ) {
        let def = self.def;
        let Some(transition) = def.workflow.transitions.iter().find(|t| t.id == action) else {
            let known: Vec<&str> = def
                .workflow
                .transitions
                .iter()
                .map(|t| t.id.as_str())
                .collect();
            self.unknown(pointer, "transition", action, &known);
            return;
        };
        let system = def
            .roles
            .iter()
            .find(|r| r.kind == RoleKind::System)
            .map(|r| r.id.as_str());
        match system {
            Some(system) if transition.by.contains(system) => {}
            Some(system) => self.error(
                pointer,
                format!("the system role `{system}` may not perform `{action}`"),
                format!("add `{system}` to the `by:` of transition `{action}`"),
            ),
            None => self.error(
                pointer,
                format!("`{action}` is performed automatically but no role has `kind: system`"),
                "declare `{ id: system, label: Automatique, kind: system }` and add it to the transition's `by:`",
            ),
        }
        for state in states.map(OneOrMany::ids).unwrap_or_default() {
            if !transition.from.contains(state) {
                self.error(
                    pointer,
                    format!("transition `{action}` cannot leave `{state}`"),
                    format!("add `{state}` to its `from:`, or remove `{state}` from the deadline's `in:`"),
                );
            }
        }
    }
}
