"use strict";
// Daily hit rate, Brier and log-loss per model beside the market baseline.

(() => {
  const { el, num, pct, seconds, api, timeChart, showError, COLORS } = PS;
  const $ = (id) => document.getElementById(id);

  const dots = { spanGaps: true, points: { show: true, size: 4 } };

  function chart(target, title, xs, series, yLabel) {
    // the game dates and a day either side (uPlot's own range for a single date spans years)
    const range = () => [xs[0] - 86400, xs[xs.length - 1] + 86400];
    const options = { title, height: 240, sync: "models", xLabel: "game date", yLabel, range };
    return timeChart(target, options, xs, series.map((s) => ({ ...s, style: dots })));
  }

  function weighted(rows, field) {
    const usable = rows.filter((r) => r[field] !== null);
    const n = usable.reduce((a, r) => a + r.n_graded, 0);
    return n ? usable.reduce((a, r) => a + r[field] * r.n_graded, 0) / n : null;
  }

  async function init() {
    let rows;
    try {
      rows = await api("/api/performance");
    } catch (error) {
      showError(`could not load performance: ${error.message}`);
      return;
    }
    if (!rows.length) {
      showError("no graded predictions yet");
      return;
    }
    const models = [...new Set(rows.map((r) => r.model))].sort();
    const days = [...new Set(rows.map((r) => r.game_date))].sort();
    const xs = days.map((d) => seconds(d + "T12:00:00Z"));
    const at = (model, field) => days.map((d) => {
      const r = rows.find((x) => x.model === model && x.game_date === d);
      return r && r[field] !== null ? r[field] : null;
    });
    const color = (i) => COLORS[i % COLORS.length];
    const market = models[0];
    chart($("hit-chart"), "Hit rate", xs, [
      ...models.map((m, i) => ({ label: m, color: color(i), values: at(m, "hit_rate") })),
      { label: "break-even at −110", color: "#888", dash: [4, 4], values: days.map(() => 110 / 210) },
    ], "hit rate");
    chart($("brier-chart"), "Brier", xs, [
      ...models.map((m, i) => ({ label: m, color: color(i), values: at(m, "brier_model") })),
      { label: "market", color: "#111", dash: [6, 4], values: at(market, "brier_market") },
    ], "Brier");
    chart($("logloss-chart"), "Log-loss", xs, [
      ...models.map((m, i) => ({ label: m, color: color(i), values: at(m, "logloss_model") })),
      { label: "market", color: "#111", dash: [6, 4], values: at(market, "logloss_market") },
    ], "log-loss");
    $("totals").tBodies[0].replaceChildren(...models.map((m) => {
      const mine = rows.filter((r) => r.model === m);
      const bets = mine.reduce((a, r) => a + r.n_bets, 0);
      const roiRows = mine.filter((r) => r.roi !== null);
      const profit = roiRows.reduce((a, r) => a + r.roi * r.n_bets, 0);
      return el("tr", { dataset: { model: m } }, el("td", {}, m),
        el("td", { class: "num" }, mine.reduce((a, r) => a + r.n_graded, 0)),
        el("td", { class: "num" }, pct(weighted(mine, "hit_rate"))),
        el("td", { class: "num" }, num(weighted(mine, "brier_model"), 4)),
        el("td", { class: "num" }, num(weighted(mine, "brier_market"), 4)),
        el("td", { class: "num" }, num(weighted(mine, "logloss_model"), 4)),
        el("td", { class: "num" }, num(weighted(mine, "logloss_market"), 4)),
        el("td", { class: "num" }, bets),
        el("td", { class: "num" }, bets ? pct(profit / bets) : "—"));
    }));
    document.body.dataset.loaded = String(rows.length);
  }

  init();
})();
