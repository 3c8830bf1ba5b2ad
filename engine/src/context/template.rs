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

use super::shape::Shape;

/// What a template reads: a JSON value, shared by every render of a mail.
#[derive(Clone, Debug)]
pub struct TemplateContext(minijinja::Value);

impl TemplateContext {
    /// The context `value` (an object: its keys are the template's names).
    pub fn new(value: Json) -> Self {
        Self::with_shape(value, Arc::new(Shape::Any))
    }

    /// The context `value`, where every name `shape` declares and `value`
    /// lacks reads as if it were there empty (null, an empty list, an
    /// object of such names), as [`Shape::fill`] would make it, without
    /// making it.
    pub(crate) fn with_shape(value: Json, shape: Arc<Shape>) -> Self {
        let root = Root { json: value, shape };
        Self(template_value(&Arc::new(root), Vec::new()))
    }

    pub(crate) fn value(&self) -> minijinja::Value {
        self.0.clone()
    }
}

/// A context's value and the names its templates may read.
#[derive(Debug)]
struct Root {
    json: Json,
    shape: Arc<Shape>,
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
    root: Arc<Root>,
    path: Vec<Step>,
}

/// A value of a context: there, or declared by the shape and absent.
enum Found<'a> {
    There(&'a Json),
    Absent(&'a Shape),
}

impl Node {
    /// The value at the node's path, if it is there.
    fn json(&self) -> Option<&Json> {
        let mut value = &self.root.json;
        for step in &self.path {
            value = match step {
                Step::Key(key) => value.get(key.as_str())?,
                Step::Index(index) => value.get(*index)?,
            };
        }
        Some(value)
    }

    /// What the shape declares at the node's path, if it does.
    fn shape(&self) -> Option<&Shape> {
        let mut shape = self.root.shape.as_ref();
        for step in &self.path {
            shape = match (shape, step) {
                (Shape::Object(fields), Step::Key(key)) => fields.get(key)?,
                (Shape::List(item), Step::Index(_)) => item,
                _ => return None,
            };
        }
        Some(shape)
    }

    fn found(&self) -> Found<'_> {
        // The shape is walked only for a value that is not there.
        match self.json() {
            Some(value) => Found::There(value),
            // A path is only ever made to a value that was there or that
            // the shape declares.
            None => self
                .shape()
                .map_or(Found::There(&Json::Null), Found::Absent),
        }
    }

    /// The names an object has, or would have once filled: its own and
    /// those its shape declares, each once, in name order.
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = match self.json() {
            Some(Json::Object(map)) => map.keys().map(String::as_str).collect(),
            Some(_) => return Vec::new(),
            None => Vec::new(),
        };
        if let Some(Shape::Object(fields)) = self.shape() {
            names.extend(fields.keys().map(String::as_str));
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    fn child(&self, step: Step) -> minijinja::Value {
        let mut path = self.path.clone();
        path.push(step);
        template_value(&self.root, path)
    }
}

/// The template value at `path` under `root`: scalars converted as the
/// serde conversion would, objects and arrays as nodes read on demand.
fn template_value(root: &Arc<Root>, path: Vec<Step>) -> minijinja::Value {
    let node = Node {
        root: Arc::clone(root),
        path,
    };
    match node.found() {
        Found::There(Json::Null) => minijinja::Value::from(()),
        Found::There(Json::Bool(value)) => minijinja::Value::from(*value),
        Found::There(Json::Number(number)) => {
            if let Some(value) = number.as_u64() {
                minijinja::Value::from(value)
            } else if let Some(value) = number.as_i64() {
                minijinja::Value::from(value)
            } else {
                minijinja::Value::from(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        Found::There(Json::String(text)) => minijinja::Value::from(text.as_str()),
        Found::There(Json::Array(_) | Json::Object(_))
        | Found::Absent(Shape::Object(_) | Shape::List(_)) => minijinja::Value::from_object(node),
        Found::Absent(Shape::Leaf | Shape::Any) => minijinja::Value::from(()),
    }
}

impl Object for Node {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.found() {
            Found::There(Json::Array(_)) | Found::Absent(Shape::List(_)) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        match self.found() {
            Found::There(Json::Object(map)) => {
                let key = key.as_str()?;
                let declared =
                    || matches!(self.shape(), Some(Shape::Object(f)) if f.contains_key(key));
                (map.contains_key(key) || declared()).then(|| self.child(Step::Key(key.to_owned())))
            }
            Found::Absent(Shape::Object(fields)) => {
                let key = key.as_str()?;
                fields
                    .contains_key(key)
                    .then(|| self.child(Step::Key(key.to_owned())))
            }
            Found::There(Json::Array(items)) => {
                let index = usize::try_from(key.as_i64()?).ok()?;
                (index < items.len()).then(|| self.child(Step::Index(index)))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.found() {
            Found::There(Json::Array(items)) => Enumerator::Seq(items.len()),
            Found::Absent(Shape::List(_)) => Enumerator::Seq(0),
            _ => Enumerator::Values(
                self.names()
                    .into_iter()
                    .map(minijinja::Value::from)
                    .collect(),
            ),
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.found() {
            Found::There(Json::Array(items)) => Some(items.len()),
            Found::Absent(Shape::List(_)) => Some(0),
            _ => Some(self.names().len()),
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
        let lazy = TemplateContext::new(context.clone());
        renders_as(&templates, &lazy, &context);
    }

    /// Each of `templates` renders over `read` as over `whole` converted
    /// at once.
    fn renders_as(templates: &[&str], read: &TemplateContext, whole: &Json) {
        let mut environment = minijinja::Environment::new();
        environment.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for source in templates {
            let template = environment.template_from_str(source).expect("template");
            let expected = template
                .render(minijinja::value::Serde(whole))
                .expect("whole");
            let rendered = template.render(read.value()).expect("read");
            assert_eq!(rendered, expected, "{source}");
        }
    }

    /// A context read through its shape renders as the context filled by
    /// that shape: names absent at every depth, in an object, a list's
    /// items, or a whole object missing.
    #[test]
    fn a_shaped_context_reads_as_the_filled_one() {
        let shape = Shape::Object(
            [
                (
                    "person".to_owned(),
                    Shape::leaves(&["nom", "prenom", "age"]),
                ),
                (
                    "pieces".to_owned(),
                    Shape::List(Box::new(Shape::leaves(&["id", "etat"]))),
                ),
                ("absent".to_owned(), Shape::leaves(&["a", "b"])),
                ("liste".to_owned(), Shape::List(Box::new(Shape::Leaf))),
                ("seul".to_owned(), Shape::Leaf),
            ]
            .into(),
        );
        let context = json!({
            "person": {"nom": "Lefèvre", "autre": 1},
            "pieces": [{"id": "passport"}, {"etat": "reçue"}],
        });
        let templates = [
            "{{ person.nom }}|{{ person.prenom }}|{{ person.age is none }}|{{ person.autre }}",
            "{% for k in person %}{{ k }},{% endfor %} {{ person|length }} {{ person }}",
            "{% for p in pieces %}{{ p.id }}={{ p.etat }};{% endfor %} {{ pieces[1] }}",
            "{{ absent }} {{ absent.a }} {{ absent|length }} {% for k, v in absent|items %}{{ k }}:{{ v }};{% endfor %}",
            "{{ liste|length }} {% if liste %}x{% else %}vide{% endif %} {{ seul }} {{ seul is none }}",
            "{{ manque is defined }} {{ absent is defined }} {{ person.manque is defined }} {{ absent.c is defined }}",
        ];
        let mut filled = context.clone();
        shape.fill(&mut filled);
        let shaped = TemplateContext::with_shape(context, Arc::new(shape));
        renders_as(&templates, &shaped, &filled);
    }
}
