"use strict";
// The health page: /api/coverage (the report `propstream health` prints) as tables, and the
// games that have props but not one prediction as an alert above them.

(() => {
  const { el, api, params, setParams, showError, utc, bookName, loadLabels } = PS;
  const $ = (id) => document.getElementById(id);
  const sum = (values) => values.reduce((a, n) => a + n, 0);
  const td = (col, text, num) => el("td", { dataset: { col }, class: num ? "num" : null }, text);
  const reasons = (counts) => Object.entries(counts).sort().map(([r, n]) => `${r} ${n}`).join("; ");

  function alert(report) {
    const games = report.games.filter((g) => report.without_any_prediction.includes(g.game));
    $("alert").hidden = !games.length;
    $("alert").replaceChildren(
      el("strong", {}, `${games.length} game${games.length === 1 ? " has" : "s have"} props and no predictions`),
      el("ul", {}, ...games.map((g) => el("li", { dataset: { game: g.game } },
        `${g.game}: ${g.props} props; ${reasons(g.without_prediction)}`))));
  }

  function games(report) {
    $("games").tBodies[0].replaceChildren(...report.games.map((g) => {
      const stale = sum(Object.values(g.stale_by_book));
      const newest = Object.values(g.last_quote_by_book).sort().pop();
      return el("tr", { dataset: { game: g.game }, class: report.without_any_prediction.includes(g.game) ? "alerted" : null },
        td("game", g.game), td("tipoff", g.tipoff ? utc(g.tipoff).slice(0, 16) : "—"),
        td("props", g.props, true), td("predicted", g.predicted, true), td("actionable", g.actionable, true),
        td("without", reasons(g.without_prediction) || "—"),
        el("td", { dataset: { col: "stale" }, class: stale ? "num warn" : "num" }, g.tipoff && !g.final ? stale : "—"),
        td("graded", g.graded, true),
        el("td", { dataset: { col: "ungraded" }, class: g.grading_gap ? "num warn" : "num",
          title: g.grading_gap ? "past the grading delay" : null }, g.ungraded + (g.grading_gap ? " (gap)" : "")),
        td("newest", newest ? utc(newest).slice(0, 16) : "—"));
    }));
  }

  function detail(report) {
    const rows = [];
    for (const g of report.games) {
      for (const [r, n] of Object.entries(g.without_prediction).sort()) rows.push([g.game, "no prediction", r, n]);
      for (const [r, n] of Object.entries(g.not_actionable).sort()) rows.push([g.game, "not actionable", r, n]);
    }
    $("reasons").tBodies[0].replaceChildren(...rows.map(([game, kind, reason, n]) =>
      el("tr", { dataset: { game, reason } }, td("game", game), td("kind", kind), td("reason", reason), td("props", n, true))));
    $("defaulted").tBodies[0].replaceChildren(...report.games.flatMap((g) => Object.entries(g.defaulted).sort().map(([d, n]) =>
      el("tr", { dataset: { game: g.game, input: d } }, td("game", g.game), td("input", d), td("props", n, true)))));
  }

  function freshness(report) {
    const books = [...new Set(report.games.flatMap((g) => Object.keys(g.props_by_book)))].sort();
    $("books").tBodies[0].replaceChildren(...books.map((b) => {
      const of = report.games.filter((g) => b in g.props_by_book);
      const newest = (field) => of.map((g) => g[field][b]).filter(Boolean).sort().pop();
      const quote = newest("last_quote_by_book"), arrival = newest("last_arrival_by_book");
      return el("tr", { dataset: { book: b } }, td("book", bookName(b)),
        td("props", sum(of.map((g) => g.props_by_book[b])), true), td("games", of.length, true),
        td("stale", sum(of.map((g) => g.stale_by_book[b] || 0)), true), td("newest", quote ? utc(quote) : "—"),
        td("arrived", arrival ? utc(arrival) : "—"));
    }));
    const topics = Object.entries(report.newest_event_by_topic);
    $("topics").hidden = !topics.length;
    $("topics").tBodies[0].replaceChildren(...topics.map(([t, at]) =>
      el("tr", { dataset: { topic: t } }, td("topic", t), td("newest", at ? utc(at) : "empty"))));
  }

  async function load(day) {
    showError(null);
    try {
      const report = await api(`/api/coverage?date=${encodeURIComponent(day)}`);
      $("stale-after").textContent = `${report.stale_after_min} minutes`;
      const total = (k) => sum(report.games.map((g) => g[k]));
      $("summary").textContent = `${report.games.length} games, ${total("props")} props, ${total("predicted")} predicted `
        + `by every model (${report.models.join(", ")}), ${total("actionable")} actionable`
        + (Object.keys(report.newest_event_by_topic).length ? "" : "; Kafka not read: no stale quotes or topic freshness");
      alert(report);
      games(report);
      detail(report);
      freshness(report);
    } catch (error) {
      showError(`could not load the report: ${error.message}`);
    }
    document.body.dataset.loaded = day;
  }

  async function init() {
    try {
      await loadLabels();
      const models = await api("/api/models");
      const dates = await api(`/api/dates?model=${encodeURIComponent(models.default)}`);
      const day = params().get("date") || (dates.length ? dates[dates.length - 1].game_date : null);
      $("date").replaceChildren(...dates.map((d) => el("option", { value: d.game_date }, `${d.game_date} (${d.games} games)`)));
      if (day && !dates.some((d) => d.game_date === day)) $("date").append(el("option", { value: day }, day));
      if (!day) {
        showError("no predictions in the database yet: run a replay or the worker first");
        document.body.dataset.loaded = "";
        return;
      }
      $("date").value = day;
      $("date").onchange = () => { setParams({ date: $("date").value }); load($("date").value); };
      await load(day);
    } catch (error) {
      showError(`could not reach the server: ${error.message}`);
    }
  }

  init();
})();
