"use strict";
// The prop page's charts: each book's line as step lines in the book's own colour, the model's
// mean, markers where a book's pick changed and the close marked; P(over) per book beside the
// market's. Books drawn first are drawn wider, so books at one line show as bands of colour.

PS.propCharts = (() => {
  const { num, pct, seconds, timeChart, bookName, bookColor } = PS;
  const MARKERS = { OVER: "#0b63c5", UNDER: "#b3261e", PASS: "#8a8a8a" };

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

  // [x, line] where a book's pick changed, per new pick
  function pickChanges(history, books) {
    const changes = { OVER: [], UNDER: [], PASS: [] };
    for (const book of books) {
      let held = null;
      for (const r of history.filter((h) => h.book === book)) {
        if (held !== null && r.recommendation !== held) changes[r.recommendation].push([seconds(r.as_of), r.line]);
        held = r.recommendation;
      }
    }
    return changes;
  }

  const at = (xs, points) => {
    const out = new Array(xs.length).fill(null);
    for (const [x, y] of points) out[xs.indexOf(x)] = y;
    return out;
  };

  // a dashed upright at tip-off, where the close is taken, labelled
  function closeHook(closeAt) {
    return (u) => {
      if (closeAt === null) return;
      const x = Math.round(u.valToPos(closeAt, "x", true));
      const { ctx } = u, ratio = uPlot.pxRatio;
      ctx.save();
      ctx.strokeStyle = "#333";
      ctx.lineWidth = 1.5 * ratio;
      ctx.setLineDash([6 * ratio, 4 * ratio]);
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillStyle = "#333";
      ctx.font = `${12 * ratio}px system-ui, sans-serif`;
      const right = x < u.bbox.left + u.bbox.width / 2; // the label on the roomier side
      ctx.textAlign = right ? "left" : "right";
      ctx.fillText("tip-off: close", x + (right ? 4 : -4) * ratio, u.bbox.top + 14 * ratio);
      ctx.restore();
    };
  }

  function axis(body) {
    const history = body.history;
    const books = [...new Set(history.map((r) => r.book))].sort((a, b) => bookName(a).localeCompare(bookName(b)));
    // the game's tip-off once it has passed (before it, quotes are only the latest so far)
    const closed = body.closes.find((c) => c.kind === "close" && c.tipoff);
    const closeAt = closed ? seconds(closed.tipoff) : null;
    const times = [...new Set(history.map((r) => seconds(r.as_of)))].sort((a, b) => a - b);
    const span = Math.max(3600, (closeAt ?? 0) - times[0], times[times.length - 1] - times[0]);
    // let the last step show, through tip-off when it comes after the last quote
    const xs = [...times, Math.max(times[times.length - 1], closeAt ?? 0) + Math.max(3600, span * 0.1)];
    const byBook = (book, field) => history.filter((r) => r.book === book).map((r) => [seconds(r.as_of), r[field]]);
    const width = (i) => 1.5 + (books.length - 1 - i) * 1.1;
    return { history, books, closeAt, xs, byBook, width };
  }

  function stepped(series) {
    const style = { paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } };
    return series.map((s) => ({ ...s, style: { ...style, ...s.style } }));
  }

  function lines(target, body) {
    const { history, books, closeAt, xs, byBook, width } = axis(body);
    const changes = pickChanges(history, books);
    const dots = (color) => ({ paths: () => null, points: { show: true, size: 10, width: 2, stroke: "#fff", fill: color } });
    const series = [
      ...stepped(books.map((b, i) => ({ label: bookName(b), color: bookColor(b), width: width(i), values: stepSeries(xs, byBook(b, "line")) }))),
      ...stepped([{ label: "model mean", color: "#111", width: 2, dash: [6, 4],
        values: stepSeries(xs, history.map((r) => [seconds(r.as_of), r.mean])) }]),
      ...Object.entries(changes).filter(([, points]) => points.length).map(([pick, points]) => ({
        label: `pick → ${pick}`, color: MARKERS[pick], width: 0, values: at(xs, points), style: dots(MARKERS[pick]),
      })),
    ];
    target.dataset.close = closeAt === null ? "" : new Date(closeAt * 1000).toISOString();
    const options = { title: "Line per book · model mean", height: 300, sync: "prop", xLabel: "event time (UTC)",
      yLabel: body.market, fmt: (v) => num(v, 1), hooks: { draw: [closeHook(closeAt)] } };
    return timeChart(target, options, xs, series);
  }

  function prob(target, body) {
    const { books, closeAt, xs, byBook, width } = axis(body);
    const series = stepped([
      ...books.map((b, i) => ({ label: `${bookName(b)}`, color: bookColor(b), width: width(i) * 0.6 + 1,
        values: stepSeries(xs, byBook(b, "p_over")) })),
      ...books.map((b) => ({ label: `${bookName(b)} market`, color: bookColor(b), width: 1, dash: [4, 4],
        values: stepSeries(xs, byBook(b, "market_p_over")) })),
    ]);
    const options = { title: "P(over)", height: 280, sync: "prop", xLabel: "event time (UTC)", yLabel: "probability",
      fmt: (v) => pct(v, 1), hooks: { draw: [closeHook(closeAt)] } };
    return timeChart(target, options, xs, series);
  }

  return { lines, prob, stepSeries, pickChanges };
})();
