// The definition editor of the staff pages: CodeMirror 6 over the page's
// <textarea>, which stays the form's field (the page works without it).
// YAML highlighting, completion of keys and values from the published JSON
// Schema, the server's diagnostics shown inline as the administrator types,
// and the file's own scenarios played on demand.

import { basicSetup } from "codemirror";
import { EditorView } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { yaml } from "@codemirror/lang-yaml";
import { linter, lintGutter, forceLinting } from "@codemirror/lint";
import { autocompletion } from "@codemirror/autocomplete";

const form = document.getElementById("editor-form");
const source = document.getElementById("definition-source");

if (form && source) {
  const csrf = form.querySelector("input[name=csrf]").value;
  const post = (url, body) =>
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then((response) => {
      if (!response.ok) throw new Error(response.status);
      return response.json();
    });

  let schema = null;
  fetch(form.dataset.schema, { credentials: "same-origin" })
    .then((r) => r.json())
    .then((s) => (schema = s))
    .catch(() => {});

  // The list under the editor says the same as the marks in it, for
  // screen readers and for whoever prefers reading a list.
  const listed = document.getElementById("editor-diagnostics");
  const status = document.getElementById("editor-status");
  const show = (problems) => {
    listed.replaceChildren(
      ...problems.map((p) => {
        const item = document.createElement("li");
        item.dataset.line = p.line;
        item.textContent = `${p.file_label} ${p.line}:${p.column} — ${p.message} (${p.hint})`;
        return item;
      }),
    );
    status.textContent = problems.length
      ? form.dataset.wordsProblems.replace("{count}", problems.length)
      : form.dataset.wordsValid;
  };

  // The list files (CSV) are plain text areas beside the editor.
  const lists = () =>
    Object.fromEntries(
      [...form.querySelectorAll("textarea[name^='list:']")].map((area) => [area.name.slice(5), area.value]),
    );

  const diagnostics = linter(
    (view) => {
      const text = view.state.doc.toString();
      return post(form.dataset.check, { source: text, lists: lists() })
        .then((problems) => {
          const main = form.dataset.file;
          show(problems.map((p) => ({ ...p, file_label: p.file === main ? "" : p.file })));
          const doc = view.state.doc;
          const at = (line, column) => {
            const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
            return Math.min(l.from + Math.max(column - 1, 0), l.to);
          };
          return problems
            .filter((p) => p.file === main)
            .map((p) => {
              const from = at(p.line, p.column);
              let to = at(p.end_line, p.end_column);
              if (to <= from) to = Math.min(from + 1, doc.length);
              return { from, to, severity: "error", message: `${p.message}\n${p.hint}` };
            });
        })
        .catch(() => []);
    },
    { delay: 400 },
  );

  // The path of keys from the top of the document to the cursor, read from
  // the indentation (it holds while a line is half typed, when the syntax
  // tree does not): what the schema says may be written there.
  const pathAt = (doc, pos) => {
    const line = doc.lineAt(pos);
    const typed = line.text.slice(0, pos - line.from);
    const path = [];
    let indent = typed.search(/\S|$/);
    const item = typed.match(/^(\s*)-\s+/);
    if (item) {
      path.unshift("*");
      indent = item[1].length;
    }
    for (let n = line.number - 1; n >= 1 && indent > 0; n--) {
      const text = doc.line(n).text;
      const lead = text.search(/\S/);
      if (lead < 0 || lead >= indent || text.trim().startsWith("#")) continue;
      const entry = text.slice(lead).match(/^(-\s+)?(?:([\w-]+)|"([^"]*)"|'([^']*)'):/);
      const dash = text.slice(lead).match(/^-(\s+|$)/);
      if (dash) {
        // An item of a list: the cursor is inside it, under the list's key.
        path.unshift("*");
      } else if (entry) {
        path.unshift(entry[2] || entry[3] || entry[4]);
      }
      indent = lead;
    }
    return path;
  };
  const resolve = (node) => {
    let seen = 0;
    while (node && node.$ref && seen++ < 20) {
      const name = node.$ref.replace("#/$defs/", "").replace("#/definitions/", "");
      node = (schema.$defs || schema.definitions || {})[name];
    }
    return node;
  };
  const alternatives = (node) => {
    node = resolve(node);
    if (!node) return [];
    const more = node.anyOf || node.oneOf || node.allOf;
    return more ? more.flatMap(alternatives) : [node];
  };
  const schemaAt = (path) => {
    let nodes = [schema];
    for (const step of path) {
      nodes = nodes.flatMap(alternatives).flatMap((node) => {
        if (step === "*") return node.items ? [node.items] : [];
        if (node.properties && node.properties[step]) return [node.properties[step]];
        if (node.additionalProperties && typeof node.additionalProperties === "object")
          return [node.additionalProperties];
        return [];
      });
    }
    return nodes.flatMap(alternatives);
  };
  const complete = (context) => {
    if (!schema) return null;
    const word = context.matchBefore(/[\w-]*/);
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const path = pathAt(context.state.doc, context.pos);
    const inValue = /:\s+[\w-]*$/.test(before);
    const nodes = schemaAt(path);
    let options = [];
    if (inValue) {
      const named = before.match(/([\w-]+):\s+[\w-]*$/);
      if (!named) return null;
      const values = schemaAt([...path, named[1]]);
      options = values
        .flatMap((n) => n.enum || (n.const !== undefined ? [n.const] : []))
        .map((v) => ({ label: String(v), type: "enum" }));
    } else {
      options = nodes.flatMap((n) =>
        Object.entries(n.properties || {}).map(([name, property]) => ({
          label: name,
          apply: `${name}: `,
          type: "property",
          info: resolve(property)?.description || property.description,
        })),
      );
    }
    if (!options.length || (word.from === word.to && !context.explicit)) return null;
    return { from: word.from, options, validFor: /^[\w-]*$/ };
  };

  const view = new EditorView({
    state: EditorState.create({
      doc: source.value,
      extensions: [
        basicSetup,
        yaml(),
        lintGutter(),
        diagnostics,
        autocompletion({ override: [complete] }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) source.value = update.state.doc.toString();
        }),
        EditorView.contentAttributes.of({ "aria-label": source.dataset.label }),
        // The page's policy lets in the editor's own styles by this nonce only.
        EditorView.cspNonce.of(form.dataset.nonce || ""),
      ],
    }),
  });
  source.hidden = true;
  source.insertAdjacentElement("afterend", view.dom);
  view.dom.id = "definition-editor";
  // The scrolling box is reachable from the keyboard (scrolled with the
  // arrows without entering the text).
  view.scrollDOM.tabIndex = 0;
  view.scrollDOM.setAttribute("aria-label", source.dataset.label);
  window.guichetEditor = view;
  forceLinting(view);
  let pending = null;
  form.querySelectorAll("textarea[name^='list:']").forEach((area) =>
    area.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(() => forceLinting(view), 400);
    }),
  );

  // The file's own scenarios, played on the text as it stands.
  const play = document.getElementById("editor-scenarios");
  const results = document.getElementById("editor-scenario-results");
  if (play) {
    play.hidden = false;
    play.addEventListener("click", () => {
      results.textContent = form.dataset.wordsPlaying;
      post(form.dataset.scenarios, { source: view.state.doc.toString(), lists: lists() })
        .then((reports) => {
          results.replaceChildren(
            ...reports.map((r) => {
              const item = document.createElement("li");
              item.className = r.ok ? "ok" : "failed";
              item.textContent = r.ok ? `✓ ${r.name}` : `✗ ${r.name} — ${r.line}: ${r.reason}`;
              return item;
            }),
          );
        })
        .catch(() => (results.textContent = form.dataset.wordsUnavailable));
    });
  }
}
