// exbuy-load report: draws the page from the JSON blob #exbuy-data with uPlot (inlined above). No network.
// After drawing, <body data-charts-rendered="N" data-charts-expected="M"> (N = charts drawn with painted pixels) and every
// .chart div carries data-series (series count), data-drawn and data-painted: what the headless-browser test reads.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("exbuy-data").textContent);
  var runs = data.runs || [];
  var root = document.getElementById("report");
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
  var charts = [];
  var W = 560, H = 260;

  function color(i) { return PALETTE[i % PALETTE.length]; }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "class") e.className = attrs[k];
      else if (k === "style") e.style.cssText = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return e;
  }

  function num(v, digits) {
    if (v === null || v === undefined || v === "") return "-";
    if (typeof v !== "number") return String(v);
    return digits === undefined ? String(v) : v.toFixed(digits);
  }

  function pct(v, digits) { return v === null || v === undefined ? "-" : (v * 100).toFixed(digits === undefined ? 1 : digits) + " %"; }

  function table(head, rows, numeric) {
    var thead = el("tr", null, head.map(function (h) { return el("th", null, [h]); }));
    var body = rows.map(function (r) {
      return el("tr", null, r.map(function (c, i) { return el("td", numeric && numeric[i] ? { "class": "n" } : null, [c]); }));
    });
    return el("table", null, [el("thead", null, [thead]), el("tbody", null, body)]);
  }

  // ---- fault windows: shaded bands from result.faults ([{start_s, end_s, label, rules, stats, ...}], seconds from the start of the
  // measured phase). Only windows that inject something are shaded: a window with "rules": [] (baseline, calm, recovered) is not;
  // one without "rules" (a hand-made result) is. ----
  function faultBands(list) {
    return function (u) {
      if (!list.length) return;
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height, left = u.bbox.left, right = u.bbox.left + u.bbox.width;
      ctx.save();
      list.forEach(function (f) {
        var x0 = Math.max(left, u.valToPos(f.start_s, "x", true));
        var x1 = Math.min(right, u.valToPos(f.end_s, "x", true));
        if (!(x1 > x0)) return;
        ctx.fillStyle = f.color ? f.color + "22" : "rgba(255,152,0,0.15)";
        ctx.fillRect(x0, top, x1 - x0, height);
        if (f.label) {
          ctx.fillStyle = "#b35c00";
          ctx.font = Math.round(11 * devicePixelRatio) + "px sans-serif";
          ctx.fillText(String(f.label), x0 + 3, top + height - 4 * devicePixelRatio);
        }
      });
      ctx.restore();
    };
  }

  function allFaults(list) {
    var out = [];
    list.forEach(function (r) {
      (Array.isArray(r.faults) ? r.faults : []).forEach(function (f) {
        if (!f || typeof f.start_s !== "number" || typeof f.end_s !== "number") return;
        if (Array.isArray(f.rules) && f.rules.length === 0) return;
        out.push({ start_s: f.start_s, end_s: f.end_s, color: color(r.index),
          label: (runs.length > 1 ? "#" + (r.index + 1) + " " : "") + (f.label || "fault") + (f.error ? " (not applied)" : "") });
      });
    });
    return out;
  }

  // ---- one uPlot per .chart div ----
  function chart(parent, id, title, opts, aligned, faults) {
    var box = el("div", { "class": "chart", "data-chart": id, "data-series": String(opts.series.length - 1), "data-drawn": "0", "data-painted": "0",
      "data-fault-bands": String((faults || []).length) },
      [el("div", { "class": "title" }, [title])]);
    parent.appendChild(box);
    opts.width = W;
    opts.height = H;
    opts.hooks = opts.hooks || {};
    opts.hooks.drawAxes = [faultBands(faults || [])];
    opts.hooks.draw = [function (u) { box.setAttribute("data-drawn", "1"); }];
    var u = new uPlot(opts, aligned, box);
    charts.push({ box: box, u: u });
    return u;
  }

  // Time-aligned columns: the union of every run's t (seconds from its own start), null where a run has no point.
  function alignTime(list, pick) {
    var ts = {};
    list.forEach(function (r) { (r.series.t || []).forEach(function (t) { ts[t] = true; }); });
    var xs = Object.keys(ts).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    xs.forEach(function (t, i) { index[t] = i; });
    var cols = [xs];
    list.forEach(function (r) {
      pick.forEach(function (name) {
        var col = new Array(xs.length).fill(null);
        (r.series.t || []).forEach(function (t, i) { var v = r.series[name] ? r.series[name][i] : null; col[index[t]] = v === undefined ? null : v; });
        cols.push(col);
      });
    });
    return cols;
  }

  var DASH = { p50: [], p95: [8, 4], p99: [2, 3] };

  function timeCharts(parent) {
    var faults = allFaults(runs);
    var xAxis = { label: "s since the run's start" };
    var rpsSeries = [{ label: "t (s)" }].concat(runs.map(function (r) {
      return { label: r.label, stroke: color(r.index), width: 1.5, spanGaps: true };
    }));
    chart(parent, "rps", "Requests per second", {
      scales: { x: { time: false } }, series: rpsSeries, axes: [xAxis, { label: "req/s" }],
    }, alignTime(runs, ["rps"]), faults);

    var latSeries = [{ label: "t (s)" }];
    runs.forEach(function (r) {
      ["p50", "p95", "p99"].forEach(function (p) {
        latSeries.push({ label: (runs.length > 1 ? "#" + (r.index + 1) + " " : "") + p, stroke: color(r.index), width: p === "p50" ? 2 : 1.25, dash: DASH[p], spanGaps: true });
      });
    });
    chart(parent, "latency", "Latency p50 / p95 / p99 per second (ms)", {
      scales: { x: { time: false } }, series: latSeries, axes: [xAxis, { label: "ms" }],
    }, alignTime(runs, ["p50", "p95", "p99"]), faults);

    var errSeries = [{ label: "t (s)" }].concat(runs.map(function (r) {
      return { label: r.label, stroke: color(r.index), fill: color(r.index) + "33", width: 1.5, spanGaps: true };
    }));
    chart(parent, "errors", "Errors per second (statuses outside expect, transport errors)", {
      scales: { x: { time: false }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      series: errSeries, axes: [xAxis, { label: "errors" }],
    }, alignTime(runs, ["errors"]), faults);
  }

  function fmtPct(q) {
    if (q === null || q === undefined) return "";
    var p = 100 - 100 / q;
    return parseFloat(p.toFixed(5)) + "%";
  }

  function curveChart(parent, r) {
    var c = r.curves || { x: [], series: [] };
    var series = [{ label: "percentile", value: function (u, v) { return fmtPct(v); } }].concat(c.series.map(function (s, i) {
      return { label: s.key, stroke: color(i), width: 1.5, spanGaps: false, value: function (u, v) { return v === null || v === undefined ? "-" : v.toFixed(2) + " ms"; } };
    }));
    var aligned = [c.x].concat(c.series.map(function (s) { return s.ms; }));
    chart(parent, "distribution-" + r.index, r.label + ": latency distribution per operation (x: percentile, log scale of 1/(1−p))", {
      scales: { x: { time: false, distr: 3, log: 10 }, y: { distr: 1 } },
      series: series,
      axes: [{
        label: "percentile",
        // Ticks at 0 %, 90 %, 99 %, 99.9 %, ... only (1/(1-p) = 1, 10, 100, ...).
        splits: function (u) { var out = [], max = u.scales.x.max; for (var q = 1; q <= max * 1.0001; q *= 10) out.push(q); return out; },
        values: function (u, splits) { return splits.map(fmtPct); },
      }, { label: "ms" }],
    }, aligned, []);
  }

  // ---- header per run ----
  function verdictBadge(r) {
    var v = r.verdict || "";
    var cls = v === "pass" ? "ok" : v === "violation" ? "bad" : v === "thresholds crossed" ? "warn" : "none";
    var text = v === "pass" ? "OK" : v === "violation" ? "VIOLATION" : v ? v.toUpperCase() : "?";
    return el("span", { "class": "verdict " + cls, "data-verdict": v }, [text]);
  }

  function correctnessBadge(c) {
    if (c && c.verdict === "deferred") return el("span", { "class": "verdict none" }, ["correctness deferred to merge (shard)"]);
    if (c && c.verdict === "UNVERIFIABLE") return el("span", { "class": "verdict none" }, ["correctness unverifiable"]);
    if (!c || !c.checked) return el("span", { "class": "verdict none" }, ["correctness not checked"]);
    return el("span", { "class": "verdict " + (c.ok ? "ok" : "bad") }, ["correctness " + (c.ok ? "OK" : "VIOLATION")]);
  }

  function variant(info) {
    if (!info || typeof info !== "object") return "no /api/info";
    var parts = [];
    Object.keys(info).forEach(function (k) {
      var v = info[k];
      if (v === null || typeof v === "object") return;
      parts.push(k + "=" + v);
    });
    return parts.join(", ");
  }

  function model(r) {
    var c = r.config || {};
    if (c.model === "open") return "open model, " + c.rate + " req/s (max " + c.max_vus + " in flight)";
    return "closed model, " + c.vus + " VUs";
  }

  function header(parent, r) {
    var c = r.config || {};
    var th = (r.thresholds || []).map(function (t) {
      return el("li", null, [(t.passed ? "ok " : "CROSSED ") + t.expression + " (value " + num(t.value) + "; " + t.source + ")"]);
    });
    parent.appendChild(el("div", { "class": "run", style: "border-left-color:" + color(r.index), "data-run": String(r.index) }, [
      el("h3", null, [el("span", { "class": "swatch", style: "background:" + color(r.index) }), r.label + "  ", verdictBadge(r), " ", correctnessBadge(r.correctness)]),
      el("div", { "class": "meta" }, ["scenario ", el("b", null, [String(r.scenario)]), r.description ? " — " + r.description : "",
        " · " + model(r) + " · duration " + num(r.duration_s) + " s · started " + r.started_at + " · seed " + num(c.seed) + " · lock_type " + num(c.lock_type)]),
      el("div", { "class": "meta" }, ["target " + (r.target && r.target.base_url) + " · variant: " + variant(r.target && r.target.info)]),
      el("div", { "class": "meta" }, ["totals: " + num(r.totals && r.totals.count) + " requests, " + num(r.totals && r.totals.rps) + " req/s, " +
        num(r.totals && r.totals.errors) + " errors · runner commit " + num(r.git_commit) + " · file " + r.file]),
      th.length ? el("ul", { "class": "meta" }, th) : el("div", { "class": "meta" }, ["thresholds: none"]),
    ]));
  }

  function opsTable(parent, r) {
    var rows = (r.operations || []).map(function (o) {
      var l = o.latency_ms || {};
      var st = Object.keys(o.statuses || {}).map(function (s) { return s + "×" + o.statuses[s]; }).join(" ");
      return [o.key, num(o.count), num(o.rps, 1), num(o.errors) + " (" + pct(o.error_rate, 2) + ")", num(l.p50, 2), num(l.p95, 2), num(l.p99, 2), num(l.p99_9, 2),
        num(l.max, 2), o.server_share === null || o.server_share === undefined ? "-" : pct(o.server_share, 0), st];
    });
    parent.appendChild(el("h3", null, [r.label + ": per operation (ms)"]));
    parent.appendChild(table(["operation", "count", "rps", "errors", "p50", "p95", "p99", "p99.9", "max", "server share", "statuses"], rows,
      [false, true, true, true, true, true, true, true, true, true, false]));
  }

  function serverTable(parent, r) {
    var m = r.server_metrics;
    parent.appendChild(el("h3", null, [r.label + ": server metrics (/metrics, after − before the measured phase)"]));
    if (!m) { parent.appendChild(el("p", { "class": "note" }, ["not recorded (the target has no /metrics, or the result predates it)"])); return; }
    var rows = (m.routes || []).map(function (x) {
      return [x.route, x.optimize === null || x.optimize === undefined ? "-" : x.optimize, num(x.requests), num(x.sql_per_request, 2), num(x.db_ms_per_request, 3),
        num(x.route_requests), num(x.route_server_ms_per_request, 3), x.route_db_share === null || x.route_db_share === undefined ? "-" : pct(x.route_db_share, 1)];
    });
    parent.appendChild(table(["route", "optimize", "requests", "SQL / request", "DB ms / request", "route requests", "route server ms / request", "route DB share"], rows,
      [false, false, true, true, true, true, true, true]));
    parent.appendChild(el("p", { "class": "note" }, [(m.note || "") + " (scraped " + m.before_at + " and " + m.after_at + ")"]));
  }

  // "db_delay 100ms on every route", "error 503 at 20% on /api/orders*" (as the runner prints them).
  function describeRules(rules) {
    if (!Array.isArray(rules)) return "-";
    if (!rules.length) return "no faults";
    return rules.map(function (x) {
      var kinds = [];
      if (x.delay_ms !== null && x.delay_ms !== undefined) kinds.push("delay " + x.delay_ms + "ms");
      if (x.db_delay_ms !== null && x.db_delay_ms !== undefined) kinds.push("db_delay " + x.db_delay_ms + "ms");
      if (x.error_status !== null && x.error_status !== undefined) kinds.push("error " + x.error_status);
      var text = kinds.join(" + ");
      if (typeof x.percent === "number" && x.percent < 100) text += " at " + x.percent + "%";
      text += x.route ? " on " + x.route : " on every route";
      if (x.until) text += " until " + x.until;
      return text;
    }).join("; ");
  }

  function faultsTable(parent, r) {
    var list = Array.isArray(r.faults) ? r.faults : [];
    if (!list.length) return;
    var t = r.fault_timeline || {};
    parent.appendChild(el("h3", null, [r.label + ": fault windows"]));
    if (t.file) parent.appendChild(el("p", { "class": "note" }, ["timeline " + t.file + " (" + (t.source || "steps") + (t.seed !== undefined && t.seed !== null ? ", seed " + t.seed : "") + ")" +
      (t.description ? " — " + t.description : "") + (typeof t.straddled === "number" ? "; " + t.straddled + " requests in flight during a change are in no window" : "")]));
    var rows = list.map(function (f) {
      var st = f.stats || {};
      return [f.label || "fault", num(f.start_s, 1) + "–" + num(f.end_s, 1), f.error ? "NOT APPLIED: " + f.error : describeRules(f.rules), num(st.requests), num(st.rps, 1),
        num(st.p50_ms, 2), num(st.p99_ms, 2), pct(st.error_rate, 2), num(st.faulted)];
    });
    var tbl = table(["window", "from–to s", "rules", "requests", "rps", "p50 ms", "p99 ms", "errors", "faulted (X-Fault)"], rows,
      [false, true, false, true, true, true, true, true, true]);
    tbl.setAttribute("class", "faults");
    tbl.setAttribute("data-fault-windows", String(list.length));
    parent.appendChild(tbl);
  }

  function correctnessSection(parent, r) {
    var c = r.correctness || {};
    parent.appendChild(el("h3", null, [r.label + ": correctness ", correctnessBadge(c)]));
    if (!c.checked) { parent.appendChild(el("p", { "class": "note" }, [c.note || "not checked"])); return; }
    parent.appendChild(el("p", null, [num(c.products) + " products, " + num(c.verified) + " verified, " + num(c.unverifiable) + " unverifiable (writes with unknown outcome); " +
      num(c.orders_placed) + " orders placed, " + num(c.unknown_writes) + " unknown writes"]));
    var v = (c.violations || []).map(function (p) { return [num(p.product_id), num(p.start), num(p.ordered), num(p.reserved), num(p.cancelled), num(p.end), p.detail || ""]; });
    if (v.length) parent.appendChild(table(["product", "start", "ordered", "reserved", "cancelled", "end", "detail"], v, [true, true, true, true, true, true, false]));
    (c.other_violations || []).forEach(function (o) { parent.appendChild(el("p", { "class": "note" }, ["violation: " + o])); });
    if (c.note) parent.appendChild(el("p", { "class": "note" }, [c.note]));
  }

  // ---- the page ----
  root.appendChild(el("p", { "class": "note" }, [runs.length + " run(s); generated " + data.generated_at + " by exbuy-load report (uPlot " + data.uplot_version + ")" +
    (runs.length > 1 ? "; time charts overlay the runs, each aligned to its own start" : "")]));
  root.appendChild(el("h2", null, ["Runs"]));
  runs.forEach(function (r) { header(root, r); });
  root.appendChild(el("h2", null, ["Over time"]));
  var timeBox = el("div", { "class": "charts" });
  root.appendChild(timeBox);
  timeCharts(timeBox);
  root.appendChild(el("h2", null, ["Latency distribution per operation"]));
  var distBox = el("div", { "class": "charts" });
  root.appendChild(distBox);
  runs.forEach(function (r) { curveChart(distBox, r); });
  root.appendChild(el("h2", null, ["Per operation"]));
  runs.forEach(function (r) { opsTable(root, r); });
  if (runs.some(function (r) { return Array.isArray(r.faults) && r.faults.length; })) {
    root.appendChild(el("h2", null, ["Fault windows"]));
    runs.forEach(function (r) { faultsTable(root, r); });
  }
  root.appendChild(el("h2", null, ["Server metrics"]));
  runs.forEach(function (r) { serverTable(root, r); });
  root.appendChild(el("h2", null, ["Correctness"]));
  runs.forEach(function (r) { correctnessSection(root, r); });

  // The marker: charts whose draw hook ran and whose canvas has painted pixels.
  function mark() {
    var rendered = 0;
    charts.forEach(function (c) {
      var canvas = c.u.ctx.canvas, painted = 0;
      try {
        var img = c.u.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        for (var i = 3; i < img.length; i += 4 * 7) if (img[i] !== 0) painted++;
      } catch (e) { painted = -1; }
      c.box.setAttribute("data-painted", String(painted));
      if (c.box.getAttribute("data-drawn") === "1" && painted > 0) rendered++;
    });
    document.body.setAttribute("data-charts-expected", String(charts.length));
    document.body.setAttribute("data-charts-rendered", String(rendered));
  }
  setTimeout(mark, 0);
})();
