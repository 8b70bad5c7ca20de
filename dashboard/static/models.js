"use strict";
// Per model and game date: hit rate, Brier and log-loss beside the market baseline, ROI, and
// the closing-line value of the model's predictions; for one market or all. In-sample rows
// (games inside the training window of the model version that graded them) are listed per day,
// labelled, and kept out of the totals and the charts.

(() => {
  const { el, num, pct, signed, signedPct, seconds, api, timeChart, showError, COLORS, params, setParams,
    loadLabels, marketOptions } = PS;
  const $ = (id) => document.getElementById(id);
  const charts = [];
  const dots = { spanGaps: true, points: { show: true, size: 4 } };

  function chart(target, title, xs, series, yLabel, fmt, yRange) {
    // the game dates and a day either side (uPlot's own range for a single date spans years)
    const range = () => [xs[0] - 86400, xs[xs.length - 1] + 86400];
    const options = { title, height: 240, sync: "models", xLabel: "game date", yLabel, range, yRange, fmt };
    charts.push(timeChart(target, options, xs, series.map((s) => ({ ...s, style: dots }))));
  }

  // the mean of a daily field over the days, each day weighted by its count
  function weighted(rows, field, weight = "n_graded") {
    const usable = rows.filter((r) => r[field] !== null && r[field] !== undefined);
    const n = usable.reduce((a, r) => a + r[weight], 0);
    return n ? usable.reduce((a, r) => a + r[field] * r[weight], 0) / n : null;
  }

  // green or red by the sign of what is shown (a value that rounds to zero is neither)
  const cell = (value, text) => {
    const shown = /^[+-]?0(\.0*)?%?$/.test(text) ? 0 : value;
    return el("td", { class: shown > 0 ? "num pos" : shown < 0 ? "num neg" : "num" }, text);
  };

  function totals(models, rows) {
    $("totals").tBodies[0].replaceChildren(...models.map((m) => {
      const mine = rows.filter((r) => r.model === m);
      const bets = mine.reduce((a, r) => a + r.n_bets, 0);
      const profit = mine.filter((r) => r.roi !== null).reduce((a, r) => a + r.roi * r.n_bets, 0);
      const clvPoints = weighted(mine, "clv_points_bets", "n_clv_bets");
      const clvProb = weighted(mine, "clv_prob_bets", "n_clv_bets");
      return el("tr", { dataset: { model: m } }, el("td", {}, m),
        el("td", { class: "num" }, mine.reduce((a, r) => a + r.n_graded, 0)),
        el("td", { class: "num" }, pct(weighted(mine, "hit_rate"))),
        el("td", { class: "num" }, num(weighted(mine, "brier_model"), 4)),
        el("td", { class: "num" }, num(weighted(mine, "brier_market"), 4)),
        el("td", { class: "num" }, num(weighted(mine, "logloss_model"), 4)),
        el("td", { class: "num" }, num(weighted(mine, "logloss_market"), 4)),
        el("td", { class: "num" }, bets),
        el("td", { class: "num" }, bets ? pct(profit / bets) : "—"),
        cell(clvPoints, signed(clvPoints, 2)), cell(clvProb, signedPct(clvProb, 2)),
        el("td", { class: "num", dataset: { col: "beat" } },
          `${pct(weighted(mine, "beat_close_bets", "n_clv_bets"))} / ${pct(weighted(mine, "lost_close_bets", "n_clv_bets"))}`));
    }));
  }

  function daily(rows) {
    $("daily").tBodies[0].replaceChildren(...[...rows].reverse().map((r) => el("tr", {
      dataset: { model: r.model, date: r.game_date, inSample: String(r.in_sample) }, class: r.in_sample ? "in-sample" : null },
      el("td", {}, r.game_date), el("td", {}, r.model, el("small", { class: "sub" }, r.model_versions),
        r.in_sample ? el("span", { class: "badge warn" }, "in-sample") : ""),
      el("td", { class: "num" }, r.n_graded),
      el("td", { class: "num" }, pct(r.hit_rate)), el("td", { class: "num" }, r.n_bets), cell(r.roi, pct(r.roi)),
      el("td", { class: "num" }, r.n_clv ?? "—"), cell(r.clv_points, signed(r.clv_points, 2)),
      cell(r.clv_prob, signedPct(r.clv_prob, 2)), el("td", { class: "num" }, `${pct(r.beat_close)} / ${pct(r.lost_close)}`),
      el("td", { class: "num" }, r.n_clv_bets ?? "—"), cell(r.clv_points_bets, signed(r.clv_points_bets, 2)),
      cell(r.clv_prob_bets, signedPct(r.clv_prob_bets, 2)),
      el("td", { class: "num" }, `${pct(r.beat_close_bets)} / ${pct(r.lost_close_bets)}`))));
  }

  function inSampleNote(rows) {
    const n = rows.reduce((a, r) => a + r.n_graded, 0);
    const models = [...new Set(rows.map((r) => r.model))].sort().join(", ");
    $("in-sample").textContent = n ? `${n} in-sample graded props (${models}) are left out of the totals and charts: `
      + "their games lie inside the training window of the model version that made the prediction, so they measure "
      + "the fit, not the model. They are listed per day below, labelled." : "";
  }

  function render(every) {
    charts.splice(0).forEach((c) => c.destroy());
    inSampleNote(every.filter((r) => r.in_sample));
    daily(every);
    const rows = every.filter((r) => !r.in_sample);
    $("totals").tBodies[0].replaceChildren();
    if (!rows.length) return;
    const models = [...new Set(rows.map((r) => r.model))].sort();
    const days = [...new Set(rows.map((r) => r.game_date))].sort();
    const xs = days.map((d) => seconds(d + "T12:00:00Z"));
    const at = (model, field) => days.map((d) => {
      const r = rows.find((x) => x.model === model && x.game_date === d);
      return r && r[field] !== null && r[field] !== undefined ? r[field] : null;
    });
    const color = (i) => COLORS[i % COLORS.length];
    const market = models[0];
    const each = (field) => models.map((m, i) => ({ label: m, color: color(i), values: at(m, field) }));
    chart($("clv-chart"), "CLV of the picks", xs, [
      ...each("clv_prob_bets"), { label: "no move", color: "#888", dash: [4, 4], values: days.map(() => 0) },
    ], "probability", (v) => signedPct(v, 2), (u, lo, hi) => [Math.min(lo ?? 0, -0.02), Math.max(hi ?? 0, 0.02)]);
    chart($("hit-chart"), "Hit rate", xs, [
      ...each("hit_rate"), { label: "break-even at −110", color: "#888", dash: [4, 4], values: days.map(() => 110 / 210) },
    ], "hit rate", (v) => pct(v));
    chart($("brier-chart"), "Brier", xs, [
      ...each("brier_model"), { label: "market", color: "#111", dash: [6, 4], values: at(market, "brier_market") },
    ], "Brier", (v) => num(v, 4));
    chart($("logloss-chart"), "Log-loss", xs, [
      ...each("logloss_model"), { label: "market", color: "#111", dash: [6, 4], values: at(market, "logloss_market") },
    ], "log-loss", (v) => num(v, 4));
    totals(models, rows);
  }

  async function load(market) {
    let rows;
    try {
      rows = await api(`/api/performance${market ? "?market=" + encodeURIComponent(market) : ""}`);
    } catch (error) {
      showError(`could not load performance: ${error.message}`);
      return;
    }
    showError(rows.length ? null : `no graded predictions yet${market ? " in this market" : ""}`);
    if (rows.length) render(rows);
    else { charts.splice(0).forEach((c) => c.destroy()); $("totals").tBodies[0].replaceChildren(); $("daily").tBodies[0].replaceChildren(); }
    document.body.dataset.loaded = `${market || "all"}|${rows.length}`;
  }

  async function init() {
    await loadLabels().catch((error) => showError(`could not reach the server: ${error.message}`));
    const market = params().get("market") || "";
    marketOptions($("market"), null, market);
    $("market").onchange = () => { setParams({ market: $("market").value }); load($("market").value); };
    await load(market);
  }

  init();
})();
