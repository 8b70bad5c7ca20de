"use strict";
// The best price per prop and a prop's row on the slate: the rules of dashboard/best.py (read
// its docstring), here so that a live update recomputes its prop's row in place. A browser
// test checks the two agree on generated quotes, ties and one-sided quotes included.

PS.best = (() => {
  const SIDES = ["OVER", "UNDER"];
  const FROM_QUOTE = ["model", "player_name", "game_date", "book", "line", "mean", "sigma", "p_over",
    "market_p_over", "actionable", "reasons", "defaulted", "prediction_id", "result", "actual", "graded_side", "graded_pick",
    "stale", "model_version", "in_sample"];
  const missing = (x) => x === null || x === undefined;

  const sideOf = (r) => (SIDES.includes(r.recommendation) ? r.recommendation : (r.p_over >= r.p_under ? "OVER" : "UNDER"));
  const price = (r, side) => (side === "OVER" ? r.over_price : r.under_price);
  const ev = (r, side) => (side === "OVER" ? r.ev_over : r.ev_under);
  const edge = (r, side) => (missing(r.edge) ? null : (side === "OVER" ? r.edge : -r.edge));

  // larger is better: EV, then price, then line (lower for the over)
  const rank = (r, side) => [ev(r, side), price(r, side), side === "OVER" ? -r.line : r.line];
  function compare(a, b) {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
  }

  function best(rows, side) {
    let top = null, topRank = null;
    for (const r of rows) {
      if (missing(price(r, side)) || missing(ev(r, side))) continue;
      const k = rank(r, side);
      const c = topRank === null ? 1 : compare(k, topRank);
      if (c > 0 || (c === 0 && r.book < top.book)) { top = r; topRank = k; }
    }
    return top;
  }

  function consensus(rows) {
    const s = rows.map((r) => r.line).sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  const quote = (r, side) => (r === null ? null : { book: r.book, line: r.line, price: price(r, side) });

  // of [side, quote] pairs, the larger EV; the over on a tie
  function better(found) {
    return found.reduce((a, b) => (ev(b[1], b[0]) > ev(a[1], a[0]) ? b : a));
  }

  function shown(rows) {
    const recommended = SIDES.map((s) => [s, best(rows.filter((r) => r.recommendation === s), s)])
      .filter(([, q]) => q !== null);
    if (recommended.length) {
      const [side, q] = better(recommended);
      return [side, side, q];
    }
    const [side, q] = better(SIDES.map((s) => [s, best(rows, s)]).filter(([, x]) => x !== null));
    return ["PASS", side, q];
  }

  function propRow(rows) {
    if (!rows.length) throw new Error("a prop needs at least one quote");
    const first = rows[0];
    const [pick, side, q] = shown(rows);
    const row = {
      key: `${first.player_id}|${first.game_key}|${first.market}`,
      player_id: first.player_id, game_key: first.game_key, market: first.market,
      consensus: consensus(rows),
      books: new Set(rows.map((r) => r.book)).size,
      best_over: quote(best(rows, "OVER"), "OVER"),
      best_under: quote(best(rows, "UNDER"), "UNDER"),
      pick, side,
      picked_at: pick === "PASS" ? 0 : rows.filter((r) => r.recommendation === pick).length,
      price: price(q, side), edge: edge(q, side), ev: ev(q, side),
      as_of: rows.reduce((a, r) => (Date.parse(r.as_of) > Date.parse(a) ? r.as_of : a), first.as_of),
    };
    for (const name of FROM_QUOTE) row[name] = missing(q[name]) ? null : q[name];
    return row;
  }

  // one row per (player, game, market), in the order the props first appear
  function propRows(rows) {
    const props = new Map();
    for (const r of rows) {
      const k = `${r.player_id}|${r.game_key}|${r.market}`;
      if (!props.has(k)) props.set(k, []);
      props.get(k).push(r);
    }
    return [...props.values()].map(propRow);
  }

  return { SIDES, sideOf, price, ev, edge, best, consensus, propRow, propRows };
})();
