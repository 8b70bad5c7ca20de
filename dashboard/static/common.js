"use strict";
// Shared by the pages. Everything from the server is put on the page as text nodes:
// names come from outside feeds and are never parsed as HTML. Times are UTC, 24-hour.

const PS = (() => {
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22"];
  const labels = { books: {}, markets: {}, other_colors: COLORS, extra: new Map() };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const missing = (x) => x === null || x === undefined;
  const num = (x, digits = 1) => (missing(x) ? "—" : Number(x).toFixed(digits));
  // "+1.5", "-0.5", and "0.0" for what rounds to zero either way
  function signed(x, digits = 1) {
    if (missing(x)) return "—";
    const shown = Math.abs(x).toFixed(digits);
    return (Number(shown) === 0 ? "" : x > 0 ? "+" : "-") + shown;
  }
  const pct = (x, digits = 1) => (missing(x) ? "—" : (100 * x).toFixed(digits) + "%");
  const signedPct = (x, digits = 1) => (missing(x) ? "—" : signed(100 * x, digits) + "%");
  const price = (x) => (missing(x) ? "—" : (x > 0 ? "+" : "") + Math.round(x));
  const pad = (n) => String(n).padStart(2, "0");
  const seconds = (iso) => Date.parse(iso) / 1000;
  // "2025-11-10 17:05:00" from an ISO time in UTC
  const utc = (iso) => (iso ? new Date(Date.parse(iso)).toISOString().replace("T", " ").slice(0, 19) : "—");
  // "11-10 17:05": a time within a slate, to the minute
  const short = (iso) => (iso ? utc(iso).slice(5, 16) : "—");
  const hhmm = (ts) => { const d = new Date(ts * 1000); return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`; };
  const ymd = (ts) => new Date(ts * 1000).toISOString().slice(0, 10);

  async function loadLabels() {
    Object.assign(labels, await api("/api/meta"));
  }
  const bookName = (key) => (labels.books[key] ? labels.books[key].name : key);
  const marketName = (key) => labels.markets[key] || key;
  function bookColor(key) {
    if (labels.books[key]) return labels.books[key].color;
    if (!labels.extra.has(key)) {
      labels.extra.set(key, labels.other_colors[labels.extra.size % labels.other_colors.length]);
    }
    return labels.extra.get(key);
  }

  function showError(message) {
    const box = document.getElementById("error");
    if (!box) return;
    box.hidden = !message;
    box.textContent = message || "";
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || body);
      throw new Error(`${response.status}: ${detail}`);
    }
    return body;
  }

  // Server-sent events, and a badge that says what the feed is doing: "live" once the server's
  // consumer has joined the output topics, "waiting for the live feed" until then, "no broker"
  // when the server cannot reach Kafka, "live off" when it was started without it (--no-live).
  const STATES = { live: ["live", "on"], waiting: ["waiting for the live feed", "off"], "no broker": ["no broker", "warn"] };
  function live(handlers) {
    const status = document.getElementById("status");
    const set = (text, cls) => {
      if (!status) return;
      status.textContent = text;
      status.className = "status " + cls;
      status.dataset.state = text;
    };
    let source = null;
    const open = () => {
      source = new EventSource("/api/stream");
      source.onerror = () => set("reconnecting…", "off");
      source.onopen = check;
      for (const [kind, handler] of Object.entries(handlers)) {
        source.addEventListener(kind, (event) => handler(JSON.parse(event.data)));
      }
    };
    let timer = null;
    async function check() {
      clearTimeout(timer);
      const health = await api("/api/health").catch(() => null);
      if (health && health.live === null) { set("live off", "off"); return; } // no feed: nothing to poll
      if (!health) set("server unreachable", "warn");
      else set(...(STATES[health.live.state] || STATES.waiting));
      if (health && !source) open();
      timer = setTimeout(check, 5000);
    }
    check();
  }

  // Time axis ticks in UTC, 24-hour: the hour and minute, with the date where the day changes;
  // dates alone when the ticks are a day or more apart.
  function timeTicks(u, splits, axisIdx, space, incr) {
    if (incr >= 86400) return splits.map((ts, i) => (i === 0 ? ymd(ts) : ymd(ts).slice(5)));
    let day = null;
    return splits.map((ts) => {
      const d = ymd(ts), label = d !== day ? `${d.slice(5)} ${hhmm(ts)}` : hhmm(ts);
      day = d;
      return label;
    });
  }

  const lastValue = (values) => { for (let i = values.length - 1; i >= 0; i--) if (!missing(values[i])) return values[i]; return null; };

  // A uPlot chart over a UTC time axis; each series is {label, color, values, width, dash, style}.
  // The legend shows each series' latest value until the cursor picks a moment (never "--").
  function timeChart(target, { title, height, sync, xLabel, yLabel, range, yRange, fmt, hooks }, xs, series) {
    const format = fmt || ((v) => num(v, 2));
    const options = {
      title, height, width: Math.max(480, target.clientWidth || 900),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      cursor: { sync: { key: sync } },
      scales: { x: range ? { time: true, range } : { time: true }, ...(yRange ? { y: { range: yRange } } : {}) },
      axes: [{ values: timeTicks }, { label: yLabel }],
      series: [
        { label: xLabel, value: (u, v, si, idx) => (idx === null ? "latest" : `${ymd(v)} ${hhmm(v)}`) },
        ...series.map((s) => ({
          label: s.label, stroke: s.color, width: s.width || 2, dash: s.dash, ...s.style,
          value: (u, v, si, idx) => { const x = idx === null ? lastValue(u.data[si]) : v; return missing(x) ? "—" : (s.fmt || format)(x); },
        })),
      ],
      hooks: hooks || {},
    };
    target.replaceChildren();
    return new uPlot(options, [xs, ...series.map((s) => s.values)], target);
  }

  function params() {
    return new URLSearchParams(window.location.search);
  }

  function setParams(values) {
    const query = params();
    for (const [k, v] of Object.entries(values)) {
      if (v === null || v === undefined || v === "") query.delete(k); else query.set(k, v);
    }
    window.history.replaceState(null, "", "?" + query.toString());
  }

  // a <select> of the markets: all, then each with its count (none that day: listed, disabled)
  function marketOptions(select, counts, current) {
    const keys = [...new Set([...Object.keys(labels.markets), ...Object.keys(counts || {})])];
    select.replaceChildren(el("option", { value: "" }, "all markets"), ...keys.map((k) => {
      const n = counts ? counts[k] || 0 : null;
      return el("option", { value: k, disabled: n === 0 && k !== current }, n === null ? marketName(k) : `${marketName(k)} (${n})`);
    }));
    select.value = current || "";
  }

  return {
    COLORS, el, missing, num, signed, pct, signedPct, price, utc, short, hhmm, ymd, seconds, showError, api, live,
    timeChart, params, setParams, loadLabels, bookName, bookColor, marketName, marketOptions,
  };
})();
