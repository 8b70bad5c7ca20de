"use strict";
// Shared by the pages. Everything from the server is put on the page as text nodes:
// names come from outside feeds and are never parsed as HTML.

const PS = (() => {
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22"];

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

  const num = (x, digits = 1) => (x === null || x === undefined ? "—" : Number(x).toFixed(digits));
  const pct = (x, digits = 1) => (x === null || x === undefined ? "—" : (100 * x).toFixed(digits) + "%");
  const signedPct = (x) => (x === null || x === undefined ? "—" : (x >= 0 ? "+" : "") + (100 * x).toFixed(1) + "%");
  const price = (x) => (x === null || x === undefined ? "—" : (x > 0 ? "+" : "") + Math.round(x));
  const utc = (iso) => (iso ? iso.replace("T", " ").replace(/(:\d\d)(\.\d+)?(\+00:00|Z)$/, "$1").slice(0, 19) : "—");
  const seconds = (iso) => Date.parse(iso) / 1000;

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

  // Server-sent events; the status badge says whether the page is live.
  function live(handlers) {
    const status = document.getElementById("status");
    const set = (text, cls) => { if (status) { status.textContent = text; status.className = "status " + cls; } };
    // "live" only once the server's feed has joined the output topics (the stream can be open
    // while the worker has not created them yet); until then, ask again every few seconds.
    let timer = null;
    const check = async () => {
      clearTimeout(timer);
      const health = await api("/api/health").catch(() => null);
      if (health && health.live && health.live.connected) set("live", "on");
      else { set("waiting for the live feed", "off"); timer = setTimeout(check, 5000); }
    };
    const source = new EventSource("/api/stream");
    source.onopen = check;
    source.onerror = () => { clearTimeout(timer); set("reconnecting…", "off"); };
    for (const [kind, handler] of Object.entries(handlers)) {
      source.addEventListener(kind, (event) => handler(JSON.parse(event.data)));
    }
    return source;
  }

  // A uPlot chart over a UTC time axis; each series is {label, color, values, width, dash, style}.
  function timeChart(target, { title, height, sync, xLabel, yLabel, range }, xs, series) {
    const options = {
      title, height, width: Math.max(480, target.clientWidth || 900),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      cursor: { sync: { key: sync } },
      scales: { x: range ? { time: true, range } : { time: true } },
      axes: [{}, { label: yLabel }],
      series: [{ label: xLabel }, ...series.map((s) => ({
        label: s.label, stroke: s.color, width: s.width || 2, dash: s.dash, ...s.style,
      }))],
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

  return { COLORS, el, num, pct, signedPct, price, utc, seconds, showError, api, live, timeChart, params, setParams };
})();
