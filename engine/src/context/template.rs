//! A JSON context as mail and letter templates see it.
//!
//! A mail renders its subject, text and HTML in every language of the
//! definition, and its letters after: converting the whole candidature's
//! context into template values for each of these renders was most of a
//! command's time when it sends mail (a deadline's automatic withdrawal and
//! its promotion). The context is kept as JSON, behind one `Arc`, and a
//! template converts only the values it reads.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::Value as Json;

/// What a template reads: a JSON value, shared by every render of a mail.
#[derive(Clone, Debug)]
pub struct TemplateContext(minijinja::Value);

impl TemplateContext {
    /// The context `value` (an object: its keys are the template's names).
    pub fn new(value: Json) -> Self {
        Self(template_value(&Arc::new(value), Vec::new()))
    }

    pub(crate) fn value(&self) -> minijinja::Value {
        self.0.clone()
    }
}

/// One step from the root of a context down to a value.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// An object or an array inside a context, found from its root.
#[derive(Debug)]
struct Node {
    root: Arc<Json>,
    path: Vec<Step>,
}

impl Node {
    fn json(&self) -> &Json {
        let mut value: &Json = &self.root;
        for step in &self.path {
            let next = match step {
                Step::Key(key) => value.get(key.as_str()),
                Step::Index(index) => value.get(*index),
            };
            // A path is only ever made from a value that was there.
            value = next.unwrap_or(&Json::Null);
        }
        value
    }

    fn child(&self, step: Step) -> minijinja::Value {
        let mut path = self.path.clone();
        path.push(step);
        template_value(&self.root, path)
    }
}

/// The template value at `path` under `root`: scalars converted as the
/// serde conversion would, objects and arrays as nodes read on demand.
fn template_value(root: &Arc<Json>, path: Vec<Step>) -> minijinja::Value {
    let node = Node {
        root: Arc::clone(root),
        path,
    };
    match node.json() {
        Json::Null => minijinja::Value::from(()),
        Json::Bool(value) => minijinja::Value::from(*value),
        Json::Number(number) => {
            if let Some(value) = number.as_u64() {
                minijinja::Value::from(value)
            } else if let Some(value) = number.as_i64() {
                minijinja::Value::from(value)
            } else {
                minijinja::Value::from(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(text) => minijinja::Value::from(text.as_str()),
        Json::Array(_) | Json::Object(_) => minijinja::Value::from_object(node),
    }
}

impl Object for Node {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.json() {
            Json::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        match self.json() {
            Json::Object(map) => {
                let key = key.as_str()?;
                map.contains_key(key)
                    .then(|| self.child(Step::Key(key.to_owned())))
            }
            Json::Array(items) => {
                let index = usize::try_from(key.as_i64()?).ok()?;
                (index < items.len()).then(|| self.child(Step::Index(index)))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.json() {
            Json::Object(map) => Enumerator::Values(
                map.keys()
                    .map(|key| minijinja::Value::from(key.as_str()))
                    .collect(),
            ),
            Json::Array(items) => Enumerator::Seq(items.len()),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.json() {
            Json::Object(map) => Some(map.len()),
            Json::Array(items) => Some(items.len()),
            _ => Some(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each template rendered with the context as the serde conversion made
    /// it and as a [`TemplateContext`]: the two must read the same.
    #[test]
    fn a_template_reads_the_same_as_from_the_whole_conversion() {
        let context = json!({
            "person": {"nom": "Lefèvre", "prenom": "Zoé", "age": 23, "note": 14.5, "solde": -3},
            "pieces": [{"id": "passport", "etat": "valide"}, {"id": "lettre", "etat": null}],
            "vide": [],
            "drapeaux": {"boursier": true, "salarie": false},
            "texte": "<b>à échapper</b>",
        });
        let templates = [
            "{{ person.prenom }} {{ person.nom|upper }}, {{ person.age + 1 }}, {{ person.note }}, {{ person.solde }}",
            "{% for p in pieces %}{{ loop.index }}:{{ p.id }}={{ p.etat }};{% endfor %}",
            "{{ pieces|length }} {{ vide|length }} {% if vide %}non{% else %}vide{% endif %}",
            "{{ pieces[1].id }} {{ pieces[-1].id }} {{ pieces[5] is defined }} {{ manque is defined }}",
            "{% for k in drapeaux %}{{ k }}{% endfor %} {% for k, v in drapeaux|dictsort %}{{ k }}={{ v }} {% endfor %}",
            "{{ person['nom'] }} {{ drapeaux.salarie }} {{ pieces|map(attribute='id')|join(',') }}",
            "{{ texte }} {{ drapeaux }} {{ pieces[0] }} {{ vide }}",
            "{{ pieces|selectattr('etat')|list|length }} {{ person is mapping }} {{ pieces is sequence }}",
            "{% for k, v in drapeaux|items %}{{ k }}:{{ v }};{% endfor %} {{ pieces|map(attribute='etat')|select|list }}",
        ];
        let mut environment = minijinja::Environment::new();
        environment.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let lazy = TemplateContext::new(context.clone());
        for source in templates {
            let template = environment.template_from_str(source).expect("template");
            let whole = template
                .render(minijinja::value::Serde(&context))
                .expect("whole");
            let read = template.render(lazy.value()).expect("lazy");
            assert_eq!(read, whole, "{source}");
        }
    }
}
