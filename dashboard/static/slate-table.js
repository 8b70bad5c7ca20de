"use strict";
// The slate's columns and rows: one row per prop (decision first: pick, edge, EV, then the best
// over and under), each book's quote in the rows it expands to, and the flat per-book view.
// Rows are built from DOM nodes and text only.

PS.slateTable = (() => {
  const { el, missing, num, pct, signedPct, price, short, utc, bookName, marketName } = PS;
  const { sideOf, edge, ev } = PS.best;
  const small = (text, cls) => el("small", { class: cls || "sub" }, text);

  // A book's quote as a row: the same names as a prop row, edge and EV on its own side.
  function bookView(r) {
    const side = sideOf(r);
    return {
      ...r, key: `${r.player_id}|${r.game_key}|${r.book}|${r.market}`, pick: r.recommendation, side,
      edge: edge(r, side), ev: ev(r, side), price: side === "OVER" ? r.over_price : r.under_price,
    };
  }

  const propLink = (r) => el("a", {
    href: `/prop?${new URLSearchParams({ player_id: r.player_id, game_key: r.game_key, market: r.market, model: r.model })}`,
  }, r.player_name || `#${r.player_id}`);

  // a prediction whose game lies inside the training window of the version that made it
  const inSample = (r) => (r.in_sample ? el("span", { class: "badge warn in-sample",
    title: `model version ${r.model_version} was trained on this game: its grade measures the fit, not the model` },
  "in-sample") : null);

  function pickCell(r, withBook) {
    if (r.pick === "PASS") return [el("span", {}, "PASS"), small(`lean ${r.side.toLowerCase()}`), inSample(r)];
    const where = withBook ? `${bookName(r.book)} · ${r.picked_at}/${r.books}` : null;
    return [el("span", {}, r.pick), where && small(where), inSample(r)];
  }

  function resultCell(r) {
    if (!r.result) return "";
    const text = `${r.result}${missing(r.actual) ? "" : ` (${r.actual})`}`;
    return r.graded_pick === "PASS" ? [text, small(`on lean ${String(r.graded_side).toLowerCase()}`)] : text;
  }

  function qualityCell(r) {
    const out = [];
    if (r.defaulted.length) out.push(el("span", { class: "badge warn" }, `${r.defaulted.length} defaulted`));
    if (r.reasons.length) out.push(el("span", { class: "reasons" }, r.reasons.join("; ")));
    if (!out.length) out.push(el("span", { class: "badge ok" }, "ok"));
    return out;
  }

  const quote = (q) => (q ? [`${num(q.line)} ${price(q.price)}`, small(bookName(q.book))] : "—");
  const sameQuote = (a, b) => a && b && a.book === b.book && a.line === b.line && a.price === b.price;

  const col = (id, label, opts) => ({ id, label, num: false, ...opts });
  const edgeCls = (r) => (missing(r.edge) ? null : (r.edge >= 0 ? "pos" : "neg"));
  const pickCls = (r) => "pick-" + r.pick.toLowerCase();
  const resultCls = (r) => (r.result ? `result-${r.result.toLowerCase()}${r.graded_pick === "PASS" ? " lean" : ""}` : null);
  const shared = {
    market: col("market", "Market", { sort: (r) => marketName(r.market), cell: (r) => marketName(r.market) }),
    edge: col("edge", "Edge (cal.)", { num: true, sort: (r) => r.edge, cell: (r) => signedPct(r.edge), cls: edgeCls,
      title: "calibrated edge: the probability of the side shown after the model's calibration stage (which starts "
        + "from the market), minus the market's de-vigged one" }),
    ev: col("ev", "EV", { num: true, sort: (r) => r.ev, cell: (r) => signedPct(r.ev), cls: edgeCls,
      title: "expected profit per unit staked on the side shown, at its price, by the model" }),
    p_over: col("p_over", "P(over) model · mkt", { num: true, sort: (r) => r.p_over,
      cell: (r) => `${pct(r.p_over, 0)} · ${pct(r.market_p_over, 0)}`,
      title: "the model's P(over) at the line shown, beside the market's de-vigged P(over)" }),
    consensus: col("consensus", "Cons.", { num: true, sort: (r) => r.consensus, cell: (r) => num(r.consensus),
      title: "consensus line: the median of the books' lines" }),
    mean: col("mean", "Mean", { num: true, sort: (r) => r.mean, cell: (r) => num(r.mean), title: "the model's expected value of the stat" }),
    quality: col("quality", "Quality", { cell: qualityCell, cls: () => "quality",
      tip: (r) => [...r.reasons, ...r.defaulted.map((d) => "defaulted " + d)].join("\n") || null }),
    result: col("result", "Result", { sort: (r) => r.result, cell: resultCell, cls: resultCls }),
    as_of: col("as_of", "As of (UTC)", { sort: (r) => r.as_of, tip: (r) => utc(r.as_of) + (r.stale ? "\nstale: older than the stale age before tip-off" : ""),
      cell: (r) => (r.stale ? [short(r.as_of), el("span", { class: "badge warn stale" }, "stale")] : short(r.as_of)) }),
  };

  // One row per prop; a book's row under it uses the same columns with its own quote.
  const PROP = [
    col("player", "Player", { sort: (r) => r.player_name || "", cell: (r, ctx) => [
      el("button", { type: "button", class: "expand", "aria-expanded": String(ctx.expanded), title: "every book" }, ctx.expanded ? "▾" : "▸"),
      propLink(r), small(r.game_key.slice(9))],
    book: (r) => [el("span", { class: "book-name" }, bookName(r.book))] }),
    { ...shared.market, book: () => "" },
    col("pick", "Pick", { sort: (r) => r.pick, cell: (r) => pickCell(r, true), cls: pickCls, book: (r) => pickCell(r, false),
      title: "the pick at the book that pays most for it, and how many books' predictions make the same pick" }),
    shared.edge, shared.ev,
    col("best_over", "Best over", { num: true, cell: (r) => quote(r.best_over), book: (r) => `${num(r.line)} ${price(r.over_price)}`,
      title: "where the over pays most by the model: at one line, the best price", cls: (r) => (r.side === "OVER" ? "side" : null),
      bookCls: (r, prop) => (sameQuote(prop.best_over, { book: r.book, line: r.line, price: r.over_price }) ? "best" : null) }),
    col("best_under", "Best under", { num: true, cell: (r) => quote(r.best_under), book: (r) => `${num(r.line)} ${price(r.under_price)}`,
      title: "where the under pays most by the model: at one line, the best price", cls: (r) => (r.side === "UNDER" ? "side" : null),
      bookCls: (r, prop) => (sameQuote(prop.best_under, { book: r.book, line: r.line, price: r.under_price }) ? "best" : null) }),
    shared.p_over, { ...shared.consensus, book: () => "" },
    col("books", "Books", { num: true, sort: (r) => r.books, cell: (r) => r.books, book: () => "" }),
    shared.mean, shared.quality, shared.result, shared.as_of,
  ];

  // The per-book view: one row per book's quote.
  const BOOKS = [
    col("player", "Player", { sort: (r) => r.player_name || "", cell: (r) => [propLink(r), small(r.game_key.slice(9))] }),
    shared.market,
    col("book", "Book", { sort: (r) => bookName(r.book), cell: (r) => bookName(r.book) }),
    col("line", "Line", { num: true, sort: (r) => r.line, cell: (r, ctx) => num(r.line) + ctx.arrow,
      cls: (r, ctx) => (r.line !== ctx.consensus ? "off-consensus" : null) }),
    col("prices", "Over / Under", { num: true, cell: (r) => `${price(r.over_price)} / ${price(r.under_price)}` }),
    col("pick", "Pick", { sort: (r) => r.pick, cell: (r) => pickCell(r, false), cls: pickCls }),
    shared.edge, shared.ev, shared.p_over, shared.consensus, shared.mean, shared.quality, shared.result, shared.as_of,
  ];

  function header(columns, sort) {
    return el("tr", {}, ...columns.map((c) => {
      const sorted = c.sort && sort.key === c.id;
      return el("th", {
        class: [c.num ? "num" : "", sorted ? "sorted" : ""].join(" ").trim() || null,
        dataset: c.sort ? { sort: c.id, dir: sorted ? (sort.dir > 0 ? "asc" : "desc") : "" } : { col: c.id },
        title: c.title || null, "aria-sort": sorted ? (sort.dir > 0 ? "ascending" : "descending") : null,
      }, c.label);
    }));
  }

  function cells(tr, columns, r, content, cls) {
    for (const c of columns) {
      const classes = [c.num ? "num" : "", cls(c) || ""].join(" ").trim();
      const td = el("td", { dataset: { col: c.id }, class: classes || null, title: c.tip ? c.tip(r) : null });
      const value = content(c);
      for (const part of Array.isArray(value) ? value : [value]) if (!missing(part)) td.append(part instanceof Node ? part : String(part));
      tr.append(td);
    }
    return tr;
  }

  function propRow(p, ctx) {
    const tr = el("tr", { dataset: { key: p.key }, class: ["prop", p.actionable ? "actionable" : ""].join(" ") });
    return cells(tr, PROP, p, (c) => c.cell(p, ctx), (c) => (c.cls ? c.cls(p, ctx) : null));
  }

  function expandedRow(r, prop) {
    const v = bookView(r);
    const tr = el("tr", { dataset: { key: v.key }, class: "book-row" });
    return cells(tr, PROP, v, (c) => (c.book ? c.book(v) : c.cell(v, {})),
      (c) => (c.bookCls ? c.bookCls(v, prop) : c.book || !c.cls ? null : c.cls(v, {})));
  }

  // `v`: a book's quote as bookView gives it
  function bookRow(v, ctx) {
    const tr = el("tr", { dataset: { key: v.key }, class: v.actionable ? "actionable" : null });
    return cells(tr, BOOKS, v, (c) => c.cell(v, ctx), (c) => (c.cls ? c.cls(v, ctx) : null));
  }

  // Sorting does what its arrow says: ▼ largest first, ▲ smallest first; blanks always last.
  function sorter(columns, sort) {
    const c = columns.find((x) => x.id === sort.key) || columns[0];
    return (a, b) => {
      const x = c.sort(a), y = c.sort(b);
      if (x === y || (missing(x) && missing(y))) return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
      if (missing(x)) return 1;
      if (missing(y)) return -1;
      return (x < y ? -1 : 1) * sort.dir;
    };
  }

  const firstDir = (columns, key) => ((columns.find((c) => c.id === key) || {}).num ? -1 : 1);

  return { PROP, BOOKS, bookView, header, propRow, expandedRow, bookRow, sorter, firstDir };
})();
