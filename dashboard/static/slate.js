"use strict";
// The slate: every prop of a game date for one model, updated in place from the live stream,
// or frozen at an earlier moment (as-of).

(() => {
  const { el, num, pct, signedPct, price, utc, api, live, params, setParams, showError } = PS;
  const FLASH_MS = 4000;
  const state = {
    date: null, model: null, asOf: null, rows: new Map(), moved: new Map(),
    sort: { key: "edge", dir: -1 },
  };
  const $ = (id) => document.getElementById(id);
  const keyOf = (r) => `${r.player_id}|${r.game_key}|${r.book}|${r.market}`;
  const propOf = (r) => `${r.player_id}|${r.game_key}|${r.market}`;

  function ev(r) {
    if (r.recommendation === "OVER") return r.ev_over;
    if (r.recommendation === "UNDER") return r.ev_under;
    return r.ev_under === null ? r.ev_over : Math.max(r.ev_over, r.ev_under);
  }

  function median(values) {
    const s = [...values].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  function consensus(rows) {
    const lines = new Map();
    for (const r of rows) {
      const k = propOf(r);
      if (!lines.has(k)) lines.set(k, []);
      lines.get(k).push(r.line);
    }
    return new Map([...lines].map(([k, v]) => [k, median(v)]));
  }

  function sortValue(r, key, cons) {
    if (key === "ev") return ev(r);
    if (key === "consensus") return cons.get(propOf(r));
    if (key === "edge") return r.edge === null ? null : Math.abs(r.edge);
    return r[key];
  }

  function visibleRows(cons) {
    const game = $("game").value, book = $("book").value, actionable = $("actionable").checked;
    const rows = [...state.rows.values()].filter(
      (r) => (!game || r.game_key === game) && (!book || r.book === book) && (!actionable || r.actionable));
    const { key, dir } = state.sort;
    rows.sort((a, b) => {
      const x = sortValue(a, key, cons), y = sortValue(b, key, cons);
      if (x === y) return keyOf(a) < keyOf(b) ? -1 : 1;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    return rows;
  }

  function quality(r) {
    const detail = [...r.reasons, ...r.defaulted.map((d) => "defaulted " + d)].join("\n");
    const cell = el("td", { class: "quality", dataset: { col: "quality" }, title: detail || null });
    if (r.defaulted.length) {
      cell.append(el("span", { class: "badge warn" }, `${r.defaulted.length} defaulted`));
    }
    if (r.reasons.length) cell.append(el("span", { class: "reasons" }, r.reasons.join("; ")));
    if (!r.defaulted.length && !r.reasons.length) cell.append(el("span", { class: "badge ok" }, "ok"));
    return cell;
  }

  function row(r, cons) {
    const k = keyOf(r);
    const consensusLine = cons.get(propOf(r));
    const moved = state.moved.get(k);
    const tr = el("tr", { dataset: { key: k }, class: r.actionable ? "actionable" : null });
    if (moved && Date.now() - moved.at < FLASH_MS) {
      tr.classList.add("moved");
      tr.style.animationDelay = `-${Date.now() - moved.at}ms`;
    }
    const link = el("a", {
      href: `/prop?${new URLSearchParams({ player_id: r.player_id, game_key: r.game_key, market: r.market, model: r.model })}`,
    }, r.player_name || `#${r.player_id}`);
    const arrow = moved && moved.dir ? (moved.dir > 0 ? " ▲" : " ▼") : "";
    const cells = [
      ["player", link], ["game", r.game_key], ["book", r.book], ["market", r.market],
      ["consensus", num(consensusLine, 1)],
      ["line", r.line.toFixed(1) + arrow],
      ["prices", `${price(r.over_price)} / ${price(r.under_price)}`],
      ["mean", num(r.mean, 1)], ["p_over", pct(r.p_over)], ["market_p_over", pct(r.market_p_over)],
      ["edge", signedPct(r.edge)], ["ev", num(ev(r), 3)], ["recommendation", r.recommendation],
    ];
    for (const [col, value] of cells) {
      const numeric = !["player", "game", "book", "market", "recommendation"].includes(col);
      const td = el("td", { dataset: { col }, class: numeric ? "num" : null }, value);
      if (col === "line" && consensusLine !== undefined && r.line !== consensusLine) {
        td.classList.add("off-consensus");
        td.title = `differs from the consensus ${consensusLine}`;
      }
      if (col === "edge" && r.edge !== null) td.classList.add(r.edge >= 0 ? "pos" : "neg");
      if (col === "recommendation") td.classList.add("pick-" + r.recommendation.toLowerCase());
      tr.append(td);
    }
    tr.append(quality(r));
    tr.append(el("td", { dataset: { col: "as_of" } }, utc(r.as_of)));
    const result = r.result ? `${r.result}${r.actual === null ? "" : " (" + r.actual + ")"}` : "";
    tr.append(el("td", { dataset: { col: "result" }, class: r.result ? "result-" + r.result.toLowerCase() : null },
      result));
    return tr;
  }

  function render() {
    const cons = consensus(state.rows.values());
    const rows = visibleRows(cons);
    $("slate").tBodies[0].replaceChildren(...rows.map((r) => row(r, cons)));
    const actionable = rows.filter((r) => r.actionable).length;
    $("summary").textContent = `${rows.length} props shown · ${actionable} actionable` +
      (state.asOf ? ` · as of ${utc(state.asOf)} UTC` : "");
    for (const th of document.querySelectorAll("th[data-sort]")) {
      th.classList.toggle("sorted", th.dataset.sort === state.sort.key);
      th.dataset.dir = th.dataset.sort === state.sort.key ? (state.sort.dir > 0 ? "asc" : "desc") : "";
    }
  }

  // Live updates can come by the hundred a second: draw at most once a frame.
  let pending = false;
  function renderSoon() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; render(); });
  }

  function fillSelect(select, values, allLabel) {
    const current = select.value;
    select.replaceChildren(el("option", { value: "" }, allLabel), ...values.map((v) => el("option", { value: v }, v)));
    select.value = values.includes(current) ? current : "";
  }

  async function load() {
    const query = new URLSearchParams({ date: state.date, model: state.model });
    if (state.asOf) query.set("as_of", state.asOf);
    try {
      const body = await api(`/api/slate?${query}`);
      state.rows = new Map(body.rows.map((r) => [keyOf(r), r]));
      showError(null);
    } catch (error) {
      showError(`could not load the slate: ${error.message}`);
      return;
    }
    const rows = [...state.rows.values()];
    fillSelect($("game"), [...new Set(rows.map((r) => r.game_key))].sort(), "all games");
    fillSelect($("book"), [...new Set(rows.map((r) => r.book))].sort(), "all books");
    const p = params();
    if (p.get("game")) $("game").value = p.get("game");
    if (p.get("book")) $("book").value = p.get("book");
    setParams({ date: state.date, model: state.model, as_of: state.asOf });
    document.body.dataset.loaded = `${state.date}|${state.model}|${state.asOf || "live"}`;
    render();
  }

  function onPrediction(p) {
    if (state.asOf || p.game_date !== state.date || p.model !== state.model) return;
    const k = keyOf(p);
    const held = state.rows.get(k);
    if (held && Date.parse(p.as_of) < Date.parse(held.as_of)) return; // an older re-delivery: the newer one stays
    const dir = held ? Math.sign(p.line - held.line) : 0;
    state.rows.set(k, { ...p, result: held ? held.result : null, actual: held ? held.actual : null });
    state.moved.set(k, { at: Date.now(), dir: dir || (state.moved.get(k) || {}).dir || 0 });
    renderSoon();
  }

  function onGrade(g) {
    if (state.asOf || g.game_date !== state.date || g.model !== state.model) return;
    const k = keyOf(g);
    const held = state.rows.get(k);
    if (!held) return;
    state.rows.set(k, { ...held, result: g.result, actual: g.actual });
    state.moved.set(k, { at: Date.now(), dir: (state.moved.get(k) || {}).dir || 0 });
    renderSoon();
  }

  async function init() {
    const p = params();
    try {
      const models = await api("/api/models");
      state.model = p.get("model") || models.default;
      const modelNames = models.models.length ? models.models : [models.default];
      $("model").replaceChildren(...modelNames.map((m) => el("option", { value: m }, m)));
      $("model").value = state.model;
      const dates = await api(`/api/dates?model=${encodeURIComponent(state.model)}`);
      $("date").replaceChildren(...dates.map((d) => el("option", { value: d.game_date },
        `${d.game_date} (${d.games} games)`)));
      state.date = p.get("date") || (dates.length ? dates[dates.length - 1].game_date : null);
      if (state.date && !dates.some((d) => d.game_date === state.date)) {
        $("date").append(el("option", { value: state.date }, state.date));
      }
      $("date").value = state.date;
    } catch (error) {
      showError(`could not reach the server: ${error.message}`);
      return;
    }
    $("actionable").checked = p.get("actionable") === "1";
    if (p.get("as_of")) {
      state.asOf = p.get("as_of");
      $("asof").value = state.asOf.slice(0, 16);
    }
    if (!state.date) {
      showError("no predictions in the database yet: run a replay or the worker first");
      return;
    }
    $("date").onchange = () => { state.date = $("date").value; state.moved.clear(); load(); };
    $("model").onchange = () => { state.model = $("model").value; state.moved.clear(); load(); };
    for (const id of ["game", "book", "actionable"]) {
      $(id).onchange = () => {
        setParams({ game: $("game").value, book: $("book").value, actionable: $("actionable").checked ? "1" : "" });
        render();
      };
    }
    $("asof-show").onclick = () => {
      if (!$("asof").value) return;
      state.asOf = $("asof").value.length === 16 ? `${$("asof").value}:00Z` : `${$("asof").value}Z`;
      load();
    };
    $("asof-live").onclick = () => { state.asOf = null; $("asof").value = ""; load(); };
    for (const th of document.querySelectorAll("th[data-sort]")) {
      th.onclick = () => {
        const key = th.dataset.sort;
        state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : (key === "edge" ? -1 : 1) };
        render();
      };
    }
    await load();
    live({ prediction: onPrediction, grade: onGrade, resync: load });
  }

  init();
})();
