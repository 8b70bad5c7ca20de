"use strict";
// One (player, game, market): every book's line over time with the model's mean and picks,
// P(over) per book beside the market's, the closing-line value of every prediction, and the
// event timeline. Reloads on live updates.

(() => {
  const { el, num, price, signed, signedPct, utc, api, live, params, showError, loadLabels, bookName, marketName } = PS;
  const $ = (id) => document.getElementById(id);
  const p = params();
  const query = new URLSearchParams({
    player_id: p.get("player_id") || "", game_key: p.get("game_key") || "", market: p.get("market") || "points",
  });
  if (p.get("model")) query.set("model", p.get("model"));
  const charts = [];

  const sidePrice = (r, side, prefix = "") => r[`${prefix}${side === "OVER" ? "over_price" : "under_price"}`];
  const cls = (x) => (x === null || x === undefined || x === 0 ? "num" : (x > 0 ? "num pos" : "num neg"));
  const mean = (xs) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : null);

  function clv(rows) {
    $("clv").tBodies[0].replaceChildren(...rows.map((r) => el("tr", { dataset: { book: r.book, asOf: r.as_of } },
      el("td", {}, utc(r.as_of)), el("td", {}, bookName(r.book)),
      el("td", {}, r.recommendation === "PASS" ? `PASS (lean ${r.side.toLowerCase()})` : r.side),
      el("td", { class: "num" }, num(r.line)), el("td", { class: "num" }, price(sidePrice(r, r.side))),
      el("td", { class: "num" }, num(r.close_line)), el("td", { class: "num" }, price(sidePrice(r, r.side, "close_"))),
      el("td", { class: cls(r.clv_points), dataset: { col: "clv_points" } }, signed(r.clv_points)),
      el("td", { class: cls(r.clv_prob), dataset: { col: "clv_prob" } }, signedPct(r.clv_prob)))));
    const probs = rows.map((r) => r.clv_prob).filter((x) => x !== null);
    const soFar = rows.length && rows[0].close_kind === "so far";
    const tipoff = rows.length && rows[0].close_tipoff ? `tip-off ${utc(rows[0].close_tipoff).slice(0, 16)} UTC` : "no tip-off known";
    $("clv-head").textContent = soFar ? "Latest (so far)" : "Close";
    $("clv-summary").textContent = rows.length
      ? `${rows.length} predictions · mean CLV ${soFar ? "so far " : ""}${signed(mean(rows.map((r) => r.clv_points)), 2)} points, ` +
        `${signedPct(mean(probs), 2)} probability · ${soFar ? `against the latest quotes until ${tipoff}`
          : `closed at ${tipoff}`}`
      : "no quotes yet";
  }

  function render(body) {
    document.title = `propstream · ${body.player_name || body.player_id}`;
    $("title").textContent = `${body.player_name || "#" + body.player_id} · ${body.game_key} · ${marketName(body.market)} · ${body.model}`;
    charts.splice(0).forEach((c) => c.destroy());
    charts.push(PS.propCharts.lines($("lines-chart"), body), PS.propCharts.prob($("prob-chart"), body));
    clv(body.clv);
    $("timeline").tBodies[0].replaceChildren(...body.timeline.map((e) => el("tr", { class: "kind-" + e.kind },
      el("td", {}, e.at ? utc(e.at) : "final"), el("td", {}, e.kind.replace("_", " ")),
      el("td", {}, e.books.map(bookName).join(", ")), el("td", {}, e.detail))));
    document.body.dataset.loaded = String(body.history.length);
  }

  async function load() {
    try {
      render(await api(`/api/prop?${query}`));
      showError(null);
    } catch (error) {
      showError(`could not load this prop: ${error.message}`);
    }
  }

  const mine = (r) => String(r.player_id) === query.get("player_id") && r.game_key === query.get("game_key") &&
    r.market === query.get("market") && (!query.get("model") || r.model === query.get("model"));

  async function init() {
    await loadLabels().catch((error) => showError(`could not reach the server: ${error.message}`));
    await load();
    live({ prediction: (r) => mine(r) && load(), grade: (r) => mine(r) && load(), resync: load });
  }

  init();
})();
