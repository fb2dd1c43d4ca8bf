// snippetgen's web composer: live search, and a live preview of the composed script.
// Every text from the server is placed with textContent; only the highlighted code (HTML that
// Pygments escaped on the server) is placed as HTML.
"use strict";

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// A fetch whose answer is dropped when a newer one was asked for meanwhile.
function latest() {
  let controller = null;
  return async (url, headers = {}) => {
    if (controller) controller.abort();
    controller = new AbortController();
    const mine = controller;
    try {
      const response = await fetch(url, { signal: mine.signal, headers });
      const body = await response.json();
      return mine === controller ? { response, body } : null;
    } catch (error) {
      if (error.name === "AbortError") return null;
      throw error;
    }
  };
}

function setupSearch() {
  const box = document.getElementById("search");
  const list = document.getElementById("results");
  const count = document.getElementById("search-count");
  if (!box || !list) return;
  const ask = latest();
  const run = debounce(async () => {
    const q = box.value;
    history.replaceState(null, "", q ? "/?" + new URLSearchParams({ q }) : "/");
    const got = await ask("/api/search?" + new URLSearchParams({ q }));
    if (!got || !got.response.ok) return;
    list.replaceChildren(
      ...got.body.map((row) => {
        const item = document.createElement("li");
        const name = document.createElement("a");
        name.className = "name";
        name.href = "/recipe/" + encodeURIComponent(row.name);
        name.textContent = row.name;
        const kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = row.kind;
        const summary = document.createElement("span");
        summary.className = "summary";
        summary.textContent = row.summary;
        const compose = document.createElement("a");
        compose.className = "compose";
        compose.href = "/compose?" + new URLSearchParams({ recipe: row.name });
        compose.textContent = "compose";
        item.append(name, " ", kind, " ", summary, " ", compose);
        return item;
      })
    );
    count.textContent = q ? `${got.body.length} matching ${q}` : `${got.body.length} recipes`;
    list.dataset.query = q;
  }, 120);
  box.addEventListener("input", run);
}

function setupComposer() {
  const form = document.getElementById("composer");
  if (!form) return;
  const preview = document.getElementById("preview");
  const code = document.getElementById("code");
  const command = document.getElementById("command");
  const warning = document.getElementById("warning");
  const general = document.getElementById("general-error");
  const links = { py: "dl-py", ipynb: "dl-ipynb", zip: "dl-zip" };

  // The selection as a query: only what differs from the defaults, like the CLI command.
  function query() {
    const q = new URLSearchParams();
    q.append("recipe", form.elements.recipe.value);
    form.querySelectorAll("input[name=with]:checked").forEach((box) => q.append("with", box.value));
    const data = form.elements.data;
    if (data && data.value !== data.dataset.default) q.append("data", data.value);
    const model = form.elements.model;
    if (model && model.value.trim()) q.append("model", model.value.trim());
    form.querySelectorAll("[data-param]").forEach((field) => {
      if (field.value !== field.dataset.default) q.append(field.name, field.value);
    });
    const project = form.elements.project;
    if (project && project.value !== project.dataset.default) q.append("project", project.value);
    return q.toString();
  }

  function showError(message, field) {
    form.querySelectorAll(".error").forEach((p) => { p.hidden = true; p.textContent = ""; });
    general.hidden = true;
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    if (!message) return;
    const spot = field && document.getElementById("err-" + field);
    const target = spot || general;
    target.textContent = message;
    target.hidden = false;
    const input = field && form.elements[field];
    if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
  }

  // The preview shown, as the server sent it: its render key and its HTML lines. The server
  // is told the key and answers with the lines that changed ("edits": [start, stop, lines],
  // in order, applied last first), or with the whole HTML when it no longer holds them.
  let shown = null;
  function show(body) {
    let lines;
    if (body.edits && shown && body.base === shown.key) {
      lines = shown.lines;
      for (const [start, stop, added] of body.edits.slice().reverse()) {
        lines.splice(start, stop - start, ...added);
      }
    } else if (typeof body.html === "string") {
      lines = body.html.split("\n");
    } else {
      return false;
    }
    shown = { key: body.key, lines };
    code.innerHTML = lines.join("\n");
    return true;
  }

  const ask = latest();
  async function refresh() {
    const q = query();
    history.replaceState(null, "", "/compose?" + q);
    preview.dataset.state = "loading";
    let got = await ask("/api/preview?" + q, shown ? { "snippetgen-shown": shown.key } : {});
    if (got && got.response.ok && !show(got.body)) {
      shown = null; // edits from a preview this page no longer shows: ask for the whole
      got = await ask("/api/preview?" + q);
      if (got && got.response.ok) show(got.body);
    }
    if (!got) return;
    if (!got.response.ok) {
      showError(got.body.error, got.body.field);
      preview.dataset.state = "error";
      return;
    }
    showError("", null);
    command.textContent = got.body.command;
    warning.textContent = got.body.warning;
    warning.hidden = !got.body.warning;
    for (const [kind, id] of Object.entries(links)) {
      const link = document.getElementById(id);
      if (link) link.href = `/download/${kind}?` + got.body.query;
    }
    preview.dataset.state = "ready";
  }
  const soon = debounce(refresh, 150);

  form.addEventListener("input", (event) => {
    if (event.target.matches("[data-param], [name=project]")) soon();
  });
  form.addEventListener("change", (event) => {
    // Features, data and model change which parameters exist: load the page for them.
    if (event.target.matches("[data-structure]")) location.assign("/compose?" + query());
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  document.getElementById("copy-command").addEventListener("click", async (event) => {
    try {
      await navigator.clipboard.writeText(command.textContent);
      event.target.textContent = "copied";
    } catch {
      event.target.textContent = "select and copy";
    }
  });
}

setupSearch();
setupComposer();
