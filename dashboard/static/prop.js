"use strict";
// One (player, game, market): every book's line over time as step lines with the model's mean,
// P(over) per book beside the market's, and the event timeline. Reloads on live updates.

(() => {
  const { el, utc, seconds, api, live, timeChart, params, showError, COLORS } = PS;
  const $ = (id) => document.getElementById(id);
  const p = params();
  const query = new URLSearchParams({
    player_id: p.get("player_id") || "", game_key: p.get("game_key") || "", market: p.get("market") || "points",
  });
  if (p.get("model")) query.set("model", p.get("model"));
  const charts = [];

  // Values at each x, carried forward from the last known one (a step function of event time).
  function stepSeries(xs, points) {
    const out = new Array(xs.length).fill(null);
    let j = 0, last = null;
    for (let i = 0; i < xs.length; i++) {
      while (j < points.length && points[j][0] <= xs[i]) last = points[j++][1];
      out[i] = last;
    }
    return out;
  }

  function chart(target, title, xs, series, yLabel) {
    const stepped = { paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } };
    const options = { title, height: 280, sync: "prop", xLabel: "event time (UTC)", yLabel };
    charts.push(timeChart(target, options, xs, series.map((s) => ({ ...s, style: stepped }))));
  }

  function render(body) {
    document.title = `propstream · ${body.player_name || body.player_id}`;
    $("title").textContent = `${body.player_name || "#" + body.player_id} · ${body.game_key} · ${body.market} · ${body.model}`;
    const history = body.history;
    const books = [...new Set(history.map((r) => r.book))].sort();
    const times = [...new Set(history.map((r) => seconds(r.as_of)))].sort((a, b) => a - b);
    const span = Math.max(3600, times[times.length - 1] - times[0]);
    const xs = [...times, times[times.length - 1] + Math.max(3600, span * 0.1)]; // let the last step show
    const byBook = (book, field) => history.filter((r) => r.book === book).map((r) => [seconds(r.as_of), r[field]]);
    const color = (i) => COLORS[i % COLORS.length];
    charts.splice(0).forEach((c) => c.destroy());
    chart($("lines-chart"), "Line per book · model mean", xs, [
      ...books.map((b, i) => ({ label: b, color: color(i), values: stepSeries(xs, byBook(b, "line")) })),
      { label: "model mean", color: "#111", width: 3, dash: [6, 4],
        values: stepSeries(xs, history.map((r) => [seconds(r.as_of), r.mean])) },
    ], "points");
    chart($("prob-chart"), "P(over)", xs, [
      ...books.map((b, i) => ({ label: `${b} model`, color: color(i), values: stepSeries(xs, byBook(b, "p_over")) })),
      ...books.map((b, i) => ({ label: `${b} market`, color: color(i), width: 1, dash: [4, 4],
        values: stepSeries(xs, byBook(b, "market_p_over")) })),
    ], "probability");
    $("timeline").tBodies[0].replaceChildren(...body.timeline.map((e) => el("tr", { class: "kind-" + e.kind },
      el("td", {}, e.at ? utc(e.at) : "final"), el("td", {}, e.kind.replace("_", " ")),
      el("td", {}, e.books.join(", ")), el("td", {}, e.detail))));
    document.body.dataset.loaded = String(history.length);
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
  load();
  live({ prediction: (r) => mine(r) && load(), grade: (r) => mine(r) && load(), resync: load });
})();
