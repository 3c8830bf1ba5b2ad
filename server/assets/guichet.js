// Live forms: fields that apply show and hide, and dependent lists follow
// earlier answers, as the server computes them; a form is sent once. Without
// this script the server does the same when the form is sent.
(function () {
  "use strict";

  // The same rule as `fold` in the server's catalogue search: canonical
  // decomposition, combining marks dropped, the ligatures œ and æ written out.
  function fold(text) {
    return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/œ/g, "oe").replace(/æ/g, "ae");
  }

  // Answers can change faster than the server answers: only the answer to
  // the latest question is applied.
  var latest = 0;
  var pending = 0;

  // How many updates are on their way, for whoever needs to wait for them.
  function track(delta) {
    pending += delta;
    document.documentElement.dataset.updating = String(pending);
  }

  function refresh(form) {
    var ticket = ++latest;
    track(1);
    // Answers go in the body, never in an address a proxy would log.
    var data = new URLSearchParams(new FormData(form));
    fetch(form.dataset.preview, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (preview) {
        if (!preview || ticket !== latest) { return; }
        form.querySelectorAll("[data-field]").forEach(function (box) {
          box.hidden = preview.hidden.indexOf(box.dataset.field) >= 0;
        });
        Object.keys(preview.options).forEach(function (id) {
          var select = document.getElementById(id);
          if (!select || select.tagName !== "SELECT") { return; }
          var chosen = select.value;
          var first = select.options[0];
          select.innerHTML = "";
          select.appendChild(first);
          preview.options[id].forEach(function (option) {
            var element = new Option(option.label, option.id, false, option.id === chosen);
            select.appendChild(element);
          });
        });
      })
      .catch(function () { /* the form still works when sent */ })
      .then(function () { track(-1); });
  }

  // Long lists get a search box that narrows them as one types.
  function typeahead(select, label) {
    var search = document.createElement("input");
    search.type = "search";
    search.id = select.id + "-search";
    search.className = "typeahead";
    search.setAttribute("aria-controls", select.id);
    var searchLabel = document.createElement("label");
    searchLabel.htmlFor = search.id;
    searchLabel.textContent = label;
    select.parentNode.insertBefore(searchLabel, select);
    select.parentNode.insertBefore(search, select);
    search.addEventListener("input", function () {
      var wanted = fold(search.value);
      Array.prototype.forEach.call(select.options, function (option, index) {
        option.hidden = index > 0 && wanted !== "" && fold(option.text).indexOf(wanted) < 0;
      });
    });
  }

  // A form sent is not sent again while its answer loads: a double-click on
  // « Transmettre » would make the command twice, and the page shown would
  // be the second one's refusal. A form opening another tab is left alone;
  // a page come back to (the browser's history), or an answer that never
  // came, frees it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.method !== "post" || form.target) { return; }
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "true";
    setTimeout(function () { delete form.dataset.sent; }, 10000);
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      delete form.dataset.sent;
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-preview]").forEach(function (form) {
      form.addEventListener("change", function () { refresh(form); });
      form.querySelectorAll("select").forEach(function (select) {
        if (select.options.length > 30) { typeahead(select, form.dataset.searchLabel || "Search"); }
      });
    });
  });
})();
