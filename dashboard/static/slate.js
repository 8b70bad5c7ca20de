"use strict";
// The slate: every prop of a game date for one model, one row per prop with the best prices
// (expand a row for every book), or one row per book's quote; updated in place from the live
// stream, or frozen at an earlier moment (as-of).

(() => {
  const { el, api, live, params, setParams, showError, utc, loadLabels, marketOptions } = PS;
  const T = PS.slateTable;
  const { propRow: bestRow, consensus } = PS.best;
  const FLASH_MS = 4000;
  const state = {
    date: null, model: null, market: "", asOf: null, view: "props",
    rows: new Map(), moved: new Map(), changed: new Map(), expanded: new Set(),
    sort: { props: { key: "edge", dir: -1 }, books: { key: "edge", dir: -1 } },
  };
  const $ = (id) => document.getElementById(id);
  const bookKey = (r) => `${r.player_id}|${r.game_key}|${r.book}|${r.market}`;
  const propKey = (r) => `${r.player_id}|${r.game_key}|${r.market}`;
  const recent = (at) => at !== undefined && Date.now() - at < FLASH_MS;

  function flash(node, at) {
    node.classList.add("moved");
    node.style.animationDelay = `-${Date.now() - at}ms`;
  }

  // every book's quote of a prop (the book filter narrows the shopping to one book)
  function groups() {
    const game = $("game").value, book = $("book").value;
    const props = new Map();
    for (const r of state.rows.values()) {
      if ((game && r.game_key !== game) || (book && r.book !== book)) continue;
      const k = propKey(r);
      if (!props.has(k)) props.set(k, []);
      props.get(k).push(r);
    }
    return props;
  }

  function propBody(props) {
    const actionable = $("actionable").checked;
    const rows = [...props.values()].map(bestRow).filter((p) => !actionable || p.actionable);
    rows.sort(T.sorter(T.PROP, state.sort.props));
    const body = [];
    for (const p of rows) {
      const quotes = props.get(p.key);
      const expanded = state.expanded.has(p.key);
      const tr = T.propRow(p, { expanded });
      const moved = Math.max(...quotes.map((r) => (state.moved.get(bookKey(r)) || {}).at || 0));
      if (recent(moved)) flash(tr, moved);
      for (const td of tr.querySelectorAll("td[data-col]")) {
        const at = state.changed.get(`${p.key}|${td.dataset.col}`);
        if (recent(at)) td.classList.add("changed");
      }
      body.push(tr);
      if (!expanded) continue;
      const side = p.side;
      const order = (r) => (side === "OVER" ? r.ev_over : r.ev_under ?? -Infinity);
      for (const r of [...quotes].sort((a, b) => order(b) - order(a) || (a.book < b.book ? -1 : 1))) {
        body.push(T.expandedRow(r, p));
      }
    }
    return [rows.length, rows.filter((p) => p.actionable).length, body];
  }

  function bookBody(props) {
    const actionable = $("actionable").checked;
    const rows = [];
    for (const quotes of props.values()) {
      const cons = consensus(quotes);
      for (const r of quotes) if (!actionable || r.actionable) rows.push({ ...T.bookView(r), consensus: cons });
    }
    rows.sort(T.sorter(T.BOOKS, state.sort.books));
    const body = rows.map((v) => {
      const moved = state.moved.get(v.key);
      const arrow = moved && moved.dir ? (moved.dir > 0 ? " ▲" : " ▼") : "";
      const tr = T.bookRow(v, { arrow, consensus: v.consensus });
      if (moved && recent(moved.at)) flash(tr, moved.at);
      return tr;
    });
    return [rows.length, rows.filter((r) => r.actionable).length, body];
  }

  function render() {
    for (const [k, at] of state.changed) if (!recent(at)) state.changed.delete(k);
    const columns = state.view === "props" ? T.PROP : T.BOOKS;
    const sort = state.sort[state.view];
    const [shown, actionable, body] = (state.view === "props" ? propBody : bookBody)(groups());
    $("slate").tHead.replaceChildren(T.header(columns, sort));
    $("slate").tBodies[0].replaceChildren(...body);
    const unit = state.view === "props" ? "props" : "quotes";
    const rows = [...state.rows.values()];
    const versions = [...new Set(rows.map((r) => r.model_version).filter((v) => v))].sort();
    const inSample = rows.filter((r) => r.in_sample).length;
    $("summary").textContent = `${shown} ${unit} shown · ${actionable} actionable` +
      (state.asOf ? ` · as of ${utc(state.asOf).slice(0, 16)} UTC` : "");
    $("version").textContent = `${state.model} version ${versions.join(", ") || "—"}` +
      (inSample ? ` · ${inSample} of ${rows.length} quotes in-sample` : " · out-of-sample");
    for (const b of document.querySelectorAll("#view button")) b.setAttribute("aria-pressed", String(b.value === state.view));
  }

  // Live updates can come by the hundred a second: draw at most once a frame.
  let pending = false;
  function renderSoon() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; render(); });
  }

  function fillSelect(select, values, allLabel, name = (v) => v) {
    const current = select.value;
    select.replaceChildren(el("option", { value: "" }, allLabel), ...values.map((v) => el("option", { value: v }, name(v))));
    select.value = values.includes(current) ? current : "";
  }

  async function load() {
    const query = new URLSearchParams({ date: state.date, model: state.model });
    if (state.market) query.set("market", state.market);
    if (state.asOf) query.set("as_of", state.asOf);
    let body;
    try {
      body = await api(`/api/slate?${query}`);
      showError(null);
    } catch (error) {
      showError(`could not load the slate: ${error.message}`);
      return;
    }
    state.rows = new Map(body.rows.map((r) => [bookKey(r), r]));
    marketOptions($("market"), body.markets, state.market);
    const rows = body.rows;
    const p = params();
    fillSelect($("game"), [...new Set(rows.map((r) => r.game_key))].sort(), "all games");
    fillSelect($("book"), [...new Set(rows.map((r) => r.book))].sort((a, b) => PS.bookName(a).localeCompare(PS.bookName(b))),
      "all books", PS.bookName);
    if (p.get("game")) $("game").value = p.get("game");
    if (p.get("book")) $("book").value = p.get("book");
    setParams({ date: state.date, model: state.model, market: state.market, as_of: state.asOf });
    document.body.dataset.loaded = `${state.date}|${state.model}|${state.asOf || "live"}`;
    render();
  }

  function applies(r) {
    return !state.asOf && r.game_date === state.date && r.model === state.model && (!state.market || r.market === state.market);
  }

  function bestOf(k) {
    const quotes = [...state.rows.values()].filter((r) => propKey(r) === k);
    return quotes.length ? bestRow(quotes) : null;
  }

  function onPrediction(p) {
    if (!applies(p)) return;
    const k = bookKey(p);
    const held = state.rows.get(k);
    if (held && Date.parse(p.as_of) < Date.parse(held.as_of)) return; // an older re-delivery: the newer one stays
    const before = bestOf(propKey(p));
    const graded = held ? { result: held.result, actual: held.actual, graded_side: held.graded_side, graded_pick: held.graded_pick } : {};
    state.rows.set(k, { result: null, actual: null, graded_side: null, graded_pick: null, ...p, ...graded });
    state.moved.set(k, { at: Date.now(), dir: (held ? Math.sign(p.line - held.line) : 0) || (state.moved.get(k) || {}).dir || 0 });
    const after = bestOf(propKey(p));
    for (const col of ["best_over", "best_under", "pick", "edge", "ev"]) {
      if (JSON.stringify(before && before[col]) !== JSON.stringify(after[col])) state.changed.set(`${propKey(p)}|${col}`, Date.now());
    }
    renderSoon();
  }

  function onGrade(g) {
    if (!applies(g)) return;
    const k = bookKey(g);
    const held = state.rows.get(k);
    if (!held) return;
    state.rows.set(k, { ...held, result: g.result, actual: g.actual, graded_side: g.side, graded_pick: g.recommendation });
    state.moved.set(k, { at: Date.now(), dir: (state.moved.get(k) || {}).dir || 0 });
    renderSoon();
  }

  // "2025-11-10 18:30" (or with a T, or seconds) in UTC, 24-hour
  function parseAsOf(text) {
    const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?Z?$/.exec(text.trim());
    return m ? `${m[1]}T${m[2]}:${m[3]}:${m[4] || "00"}Z` : null;
  }

  function controls() {
    const p = params();
    $("actionable").checked = p.get("actionable") === "1";
    if (p.get("as_of")) {
      state.asOf = p.get("as_of");
      $("asof").value = utc(state.asOf).slice(0, 16);
    }
    const reload = () => { state.moved.clear(); state.changed.clear(); load(); };
    $("date").onchange = () => { state.date = $("date").value; reload(); };
    $("model").onchange = () => { state.model = $("model").value; reload(); };
    $("market").onchange = () => { state.market = $("market").value; reload(); };
    for (const id of ["game", "book", "actionable"]) {
      $(id).onchange = () => {
        setParams({ game: $("game").value, book: $("book").value, actionable: $("actionable").checked ? "1" : "" });
        render();
      };
    }
    for (const b of document.querySelectorAll("#view button")) {
      b.onclick = () => { state.view = b.value; setParams({ view: b.value === "props" ? "" : b.value }); render(); };
    }
    $("asof-show").onclick = () => {
      const moment = parseAsOf($("asof").value);
      if (!moment) { showError("as of: write the moment as YYYY-MM-DD HH:MM (UTC, 24-hour)"); return; }
      state.asOf = moment;
      load();
    };
    $("asof-live").onclick = () => { state.asOf = null; $("asof").value = ""; load(); };
    $("slate").tHead.onclick = (event) => {
      const th = event.target.closest("th[data-sort]");
      if (!th) return;
      const key = th.dataset.sort, sort = state.sort[state.view];
      const columns = state.view === "props" ? T.PROP : T.BOOKS;
      state.sort[state.view] = { key, dir: sort.key === key ? -sort.dir : T.firstDir(columns, key) };
      render();
    };
    $("slate").tBodies[0].onclick = (event) => {
      const button = event.target.closest("button.expand");
      if (!button) return;
      const k = button.closest("tr").dataset.key;
      if (!state.expanded.delete(k)) state.expanded.add(k);
      render();
    };
  }

  async function init() {
    const p = params();
    state.view = p.get("view") === "books" ? "books" : "props";
    state.market = p.get("market") || "";
    try {
      await loadLabels();
      const models = await api("/api/models");
      state.model = p.get("model") || models.default;
      const modelNames = models.models.length ? models.models : [models.default];
      $("model").replaceChildren(...modelNames.map((m) => el("option", { value: m }, m)));
      $("model").value = state.model;
      const dates = await api(`/api/dates?model=${encodeURIComponent(state.model)}`);
      $("date").replaceChildren(...dates.map((d) => el("option", { value: d.game_date }, `${d.game_date} (${d.games} games)`)));
      state.date = p.get("date") || (dates.length ? dates[dates.length - 1].game_date : null);
      if (state.date && !dates.some((d) => d.game_date === state.date)) {
        $("date").append(el("option", { value: state.date }, state.date));
      }
      $("date").value = state.date;
    } catch (error) {
      showError(`could not reach the server: ${error.message}`);
      return;
    }
    controls();
    live({ prediction: onPrediction, grade: onGrade, resync: load });
    if (!state.date) {
      showError("no predictions in the database yet: run a replay or the worker first");
      return;
    }
    await load();
  }

  init();
})();
