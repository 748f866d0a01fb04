/*
 * board.js - the script of `nnc board`'s page (docs/board.md).
 *
 * BOARD (written by runtime/common_board.c) holds every run's files as
 * text: metrics.csv, config.json, summary.json and its figures, and every
 * sweep's sweep.json (its configurations, written before any run) and
 * results.json.  A file that does not parse is left out, not the page.
 *
 * Runs: one per directory with a metrics.csv.  A run of a sweep
 * (SWEEP/runs/CONFIG/seedK) takes its configuration's swept values and
 * parameter count from the sweep; a run of its own, the settings of its
 * config.json that differ between such runs.  Runs with the same values are
 * repeats of one configuration.
 *
 * Selection: a run is shown when every brushed axis of the parallel
 * coordinates holds its value; the curves show the selected runs that are
 * also picked in the list, the table the configurations with a selected
 * run.  The page's state (picks, brushes, controls) survives the reloads of
 * a live board in sessionStorage.
 */
"use strict";

const METRICS = ["loss", "test_loss", "accuracy", "test_accuracy"];
const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b",
                 "#9d755d", "#ff9da6", "#79706e", "#1b9e77", "#7570b3", "#d95f02", "#66a61e"];
/* settings of config.json that never make two runs different configurations */
const NOT_SETTINGS = new Set(["seed", "log", "command", "threads", "nnc_version", "runtime_version",
                              "source_hash", "source", "optimizer_text", "schedule_text"]);

function parseJSON(text) {
    if (text == null) return null;
    try { return JSON.parse(text); } catch (e) { return null; }
}

/* metrics.csv: {columns, rows (arrays of numbers)}; a last line still being
 * written (no newline yet) or a row of the wrong length is left out */
function parseCSV(text) {
    if (!text) return {columns: [], rows: []};
    const lines = text.split("\n");
    if (!text.endsWith("\n")) lines.pop();
    const columns = lines.length ? lines[0].split(",") : [];
    const rows = [];
    for (let i = 1; i < lines.length; i++) {
        const f = lines[i].split(",");
        if (f.length !== columns.length) continue;
        rows.push(f.map(v => (v === "" || v === "nan" ? NaN : Number(v))));
    }
    return {columns, rows};
}

function fmt(x) {
    if (x == null || Number.isNaN(x)) return "";
    if (typeof x !== "number") return String(x);
    if (Number.isInteger(x) && Math.abs(x) < 1e9) return String(x);
    const a = Math.abs(x);
    if (a !== 0 && (a < 1e-4 || a >= 1e6))
        return x.toExponential(2).replace(/\.?0+e/, "e");
    if (a >= 1e4)
        return String(Math.round(x));
    const t = x.toPrecision(4);
    return t.includes(".") ? t.replace(/\.?0+$/, "") : t;
}

function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (k === "class") e.className = v;
        else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
}

function escapeText(s) {
    return String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
}

/* ---- the model: sweeps, runs, configurations ---- */

const sweeps = BOARD.sweeps.map(s => {
    const plan = parseJSON(s.results) || parseJSON(s.plan) || {configs: []};
    const byConfig = new Map();
    for (const c of plan.configs || []) byConfig.set(c.config, c);
    return {path: s.path, prefix: s.path === "." ? "runs/" : s.path + "/runs/", plan, byConfig,
            figures: s.figures};
});

function flatten(obj, prefix, out) {
    for (const [k, v] of Object.entries(obj)) {
        const key = prefix ? prefix + "." + k : k;
        if (!prefix && NOT_SETTINGS.has(k)) continue;
        if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, key, out);
        else out[key] = Array.isArray(v) ? v.join(",") : v;
    }
    return out;
}

const runs = BOARD.runs.map((r, i) => {
    const m = parseCSV(r.metrics);
    const config = parseJSON(r.config);
    const summary = parseJSON(r.summary);
    const last = m.rows.length ? m.rows[m.rows.length - 1] : null;
    const final = {};
    if (last) m.columns.forEach((c, k) => { final[c] = last[k]; });
    /* no summary.json yet: still training (a live board), or stopped without one */
    const status = summary ? summary.status : (BOARD.refresh > 0 ? "running" : "unfinished");
    const run = {index: i, path: r.path, metrics: m, config, summary, final, status,
                 ok: !!last && !!summary && status !== "diverged",
                 figures: r.figures, values: {}, params: config ? config.nparams : undefined,
                 seed: config ? config.seed : undefined, group: null};
    for (const s of sweeps) {
        if (!r.path.startsWith(s.prefix)) continue;
        const parts = r.path.slice(s.prefix.length).split("/");
        const c = s.byConfig.get(parts[0]);
        run.sweep = s;
        run.group = s.path + ":" + parts[0];
        run.configName = parts[0];
        const seed = /^seed(\d+)$/.exec(parts[1] || "");
        if (seed) run.seed = Number(seed[1]);
        if (c) {
            run.values = Object.assign({}, c.values);
            run.params = c.params;
        }
        break;
    }
    return run;
});

/* runs of their own: the settings that differ between them */
(function ownValues() {
    const own = runs.filter(r => !r.sweep);
    const flat = own.map(r => (r.config ? flatten(r.config, "", {}) : {}));
    const keys = [];
    for (const f of flat) for (const k of Object.keys(f)) if (!keys.includes(k)) keys.push(k);
    const varying = keys.filter(k => new Set(flat.map(f => JSON.stringify(f[k]))).size > 1);
    own.forEach((r, i) => {
        for (const k of varying) r.values[k] = flat[i][k];
        r.configName = varying.length ? varying.map(k => k + "=" + fmt(flat[i][k])).join(" ")
                                      : (r.config && r.config.model) || r.path;
        r.group = "own:" + JSON.stringify(varying.map(k => flat[i][k]));
    });
})();

const groups = [];
(function makeGroups() {
    const byKey = new Map();
    for (const r of runs) {
        let g = byKey.get(r.group);
        if (!g) {
            g = {key: r.group, name: r.configName, values: r.values, params: r.params, runs: [],
                 colour: PALETTE[groups.length % PALETTE.length]};
            byKey.set(r.group, g);
            groups.push(g);
        }
        g.runs.push(r);
        r.colour = g.colour;
    }
})();

/* the names every run has a value of, in order: swept values, then settings */
const valueNames = [];
for (const r of runs) for (const k of Object.keys(r.values)) if (!valueNames.includes(k)) valueNames.push(k);
const metricNames = METRICS.filter(c => runs.some(r => r.metrics.columns.includes(c)));
const columnNames = [];
for (const r of runs) for (const c of r.metrics.columns) if (!columnNames.includes(c)) columnNames.push(c);

function runLabel(r) {
    const parts = [];
    if (r.configName) parts.push(r.configName);
    if (r.seed != null) parts.push("seed " + r.seed);
    return parts.length ? parts.join(" ") : r.path;
}

/* ---- state, kept across the reloads of a live board ---- */

const STORE = "nnc-board:" + location.pathname;
const state = Object.assign({
    metric: metricNames.includes("loss") ? "loss" : (columnNames.find(c => c !== "epoch" && c !== "step") || "loss"),
    train: true, test: true, x: "epoch", smooth: 0, logy: false, logx: false, mean: false,
    unpicked: [], brush: {}, sort: null, desc: false, filter: "", runFilter: "", run: null, colour: null
}, (() => { try { return JSON.parse(sessionStorage.getItem(STORE)) || {}; } catch (e) { return {}; } })());
function save() {
    try { sessionStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* private mode */ }
}

/* ---- selection (brushes) ---- */

const axes = [];   /* the parallel coordinates' axes: {name, get(run), category: [...]} */

function selected(r) {
    for (const a of axes) {
        const iv = state.brush[a.name];
        if (!iv || !iv.length) continue;
        let v = a.get(r);
        if (a.category) v = a.category.indexOf(v);
        if (v == null || Number.isNaN(v)) return false;
        if (!iv.some(([lo, hi]) => v >= lo && v <= hi)) return false;
    }
    return true;
}

function picked(r) { return !state.unpicked.includes(r.path); }

/* ---- learning curves ---- */

function curveColumns() {
    const m = state.metric;
    const base = m.startsWith("test_") ? m.slice(5) : m;
    const out = [];
    const anyHas = c => runs.some(r => r.metrics.columns.includes(c));
    if (state.train && anyHas(base)) out.push({col: base, test: false});
    if (state.test && anyHas("test_" + base)) out.push({col: "test_" + base, test: true});
    if (!out.length && anyHas(m)) out.push({col: m, test: m.startsWith("test_")});
    return out;
}

/* TensorBoard's smoothing: an exponential moving average, debiased */
function smoothed(ys, w) {
    if (!w) return ys;
    let last = 0, n = 0;
    return ys.map(y => {
        if (!Number.isFinite(y)) return y;
        n++;
        last = last * w + (1 - w) * y;
        return last / (1 - Math.pow(w, n));
    });
}

let curvesChart, parallelChart;

/* a run's curve of one column: [x, y] pairs, smoothed, those a log axis can show */
function curve(r, col) {
    const xi = r.metrics.columns.indexOf(state.x), yi = r.metrics.columns.indexOf(col);
    if (xi < 0 || yi < 0) return null;
    const ys = smoothed(r.metrics.rows.map(row => row[yi]), state.smooth);
    const data = [];
    r.metrics.rows.forEach((row, k) => {
        if (state.logx && !(row[xi] > 0)) return;
        if (state.logy && !(ys[k] > 0)) return;
        data.push([row[xi], Number.isFinite(ys[k]) ? ys[k] : null]);
    });
    return data;
}

/* "mean of repeats": per configuration, the mean over its runs at each x,
 * with a band of one standard deviation either side (not on a log y axis) */
function meanSeries(cols, shown) {
    const series = [];
    for (const g of groups) {
        const rs = g.runs.filter(r => shown.includes(r));
        if (!rs.length) continue;
        for (const {col, test} of cols) {
            const at = new Map();
            for (const r of rs)
                for (const [x, y] of curve(r, col) || [])
                    if (y != null) (at.get(x) || at.set(x, []).get(x)).push(y);
            const xs = [...at.keys()].sort((a, b) => a - b);
            const mean = [], lower = [], upper = [];
            for (const x of xs) {
                const v = at.get(x);
                const m = v.reduce((a, b) => a + b, 0) / v.length;
                const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) * (b - m), 0) / (v.length - 1)) : 0;
                mean.push([x, m]);
                lower.push([x, m - sd]);
                upper.push([x, m + sd]);
            }
            const id = "mean:" + g.key + "|" + col;
            series.push({
                name: g.name + " (" + rs.length + " run" + (rs.length > 1 ? "s" : "") + ")" + (cols.length > 1 ? (test ? " (test)" : " (train)") : ""),
                id, type: "line", data: mean, showSymbol: mean.length < 2, symbolSize: 5,
                lineStyle: {width: 2, type: test ? "dashed" : "solid"}, itemStyle: {color: g.colour},
                emphasis: {focus: "series"}, animation: false, sampling: "lttb", z: 3
            });
            if (state.logy || rs.length < 2) continue;
            const points = upper.concat(lower.slice().reverse());
            series.push({
                id: id + "|band", type: "custom", silent: true, z: 1, animation: false, clip: true,
                tooltip: {show: false}, data: points,
                renderItem: (params, api) => params.dataIndex !== 0 ? null : {
                    type: "polygon", shape: {points: points.map(p => api.coord(p))},
                    style: {fill: g.colour, opacity: test ? 0.08 : 0.16}
                }
            });
        }
    }
    return series;
}

function drawCurves() {
    const cols = curveColumns();
    let series = [];
    const shown = runs.filter(r => selected(r) && picked(r));
    if (state.mean) series = meanSeries(cols, shown);
    for (const r of state.mean ? [] : shown) {
        for (const {col, test} of cols) {
            const data = curve(r, col);
            if (!data) continue;
            series.push({
                name: runLabel(r) + (cols.length > 1 ? (test ? " (test)" : " (train)") : ""),
                id: r.path + "|" + col, type: "line", data, showSymbol: data.length < 2,
                symbolSize: 5, lineStyle: {width: 1.6, type: test ? "dashed" : "solid"},
                itemStyle: {color: r.colour}, emphasis: {focus: "series"}, animation: false,
                sampling: "lttb",   /* long runs: drawn from fewer points, the data intact */
                triggerLineEvent: true   /* a click on the line shows its run */
            });
        }
    }
    document.getElementById("curves-note").textContent =
        shown.length + " of " + runs.length + " runs" + (state.mean ? ", the mean of each configuration's" : "") +
        (cols.length ? ": " + cols.map(c => c.col + (c.test ? " (dashed)" : "")).join(", ") : "");
    curvesChart.setOption({
        animation: false,
        grid: {left: 64, right: 24, top: 16, bottom: 44},
        tooltip: {trigger: "item", valueFormatter: fmt},
        xAxis: {type: state.logx ? "log" : "value", name: state.x, nameLocation: "middle", nameGap: 28,
                min: state.logx ? undefined : "dataMin", max: "dataMax"},
        yAxis: {type: state.logy ? "log" : "value", scale: true, name: state.metric.replace(/^test_/, ""),
                axisLabel: {formatter: fmt}},
        dataZoom: [{type: "inside", xAxisIndex: 0}],
        series
    }, {replaceMerge: ["series"]});
}

function drawRunList() {
    const list = document.getElementById("runlist");
    list.textContent = "";
    const f = state.runFilter.toLowerCase();
    for (const r of runs) {
        const label = runLabel(r);
        if (f && !label.toLowerCase().includes(f) && !r.path.toLowerCase().includes(f)) continue;
        const box = el("input", {type: "checkbox"});
        box.checked = picked(r);
        box.addEventListener("change", () => {
            state.unpicked = state.unpicked.filter(p => p !== r.path);
            if (!box.checked) state.unpicked.push(r.path);
            save();
            drawCurves();
        });
        const status = r.status === "finished" ? "" : " (" + r.status + ")";
        list.append(el("label", {class: selected(r) ? "" : "out", title: r.path}, box,
                       el("span", {class: "swatch", style: "background:" + r.colour}),
                       label + status));
    }
}

/* ---- parallel coordinates ---- */

function setupAxes() {
    const has = f => runs.some(r => { const v = f(r); return v != null && !Number.isNaN(v); });
    for (const name of valueNames) {
        const get = r => r.values[name];
        const vals = runs.map(get).filter(v => v != null);
        if (new Set(vals.map(String)).size < 2)
            continue;   /* one value for all (-D depth=1): nothing to tell apart */
        const numeric = vals.every(v => typeof v === "number");
        const a = {name, get};
        if (!numeric) a.category = [...new Set(vals.map(String))];
        if (!numeric) a.get = r => (r.values[name] == null ? null : String(r.values[name]));
        /* learning rates and the like span decades */
        a.log = numeric && vals.length > 0 && Math.min(...vals) > 0 && Math.max(...vals) / Math.min(...vals) >= 10;
        a.integer = numeric && vals.every(Number.isInteger);
        axes.push(a);
    }
    if (has(r => r.params) && new Set(runs.map(r => r.params)).size > 1)
        axes.push({name: "params", get: r => r.params, integer: true});
    for (const m of metricNames) {
        const a = {name: m, get: r => (r.final[m] == null ? NaN : r.final[m]), metric: true};
        if (has(a.get)) axes.push(a);
    }
}

function drawParallel() {
    if (!parallelChart) return;
    const note = document.getElementById("parallel-note");
    const colourSel = document.getElementById("colour");
    const colourAxis = axes.findIndex(a => a.name === state.colour);
    const ci = colourAxis >= 0 ? colourAxis : axes.length - 1;
    const data = runs.map(r => ({
        name: runLabel(r),
        value: axes.map(a => {
            const v = a.get(r);
            return v == null || (typeof v === "number" && !Number.isFinite(v)) ? "-" : v;
        })
    }));
    const cv = runs.map(r => axes[ci].get(r)).filter(v => typeof v === "number" && Number.isFinite(v));
    const visual = !axes[ci].category && cv.length ? {
        type: "continuous", show: true, dimension: ci, min: Math.min(...cv), max: Math.max(...cv),
        orient: "vertical", right: 4, top: "middle", itemHeight: 160, calculable: false,
        text: [axes[ci].name, ""], textStyle: {fontSize: 11},
        inRange: {color: ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]},
        formatter: fmt
    } : undefined;
    parallelChart.setOption({
        animation: false,
        parallel: {left: 60, right: visual ? 150 : 60, top: 40, bottom: 30,
                   parallelAxisDefault: {nameLocation: "start", nameGap: 18,
                                         nameTextStyle: {fontSize: 12, fontWeight: 600},
                                         axisLabel: {formatter: v => (typeof v === "number" ? fmt(v) : v)},
                                         realtime: true}},
        parallelAxis: axes.map((a, i) => ({
            dim: i, id: "axis" + i, name: a.name,
            type: a.category ? "category" : (a.log ? "log" : "value"),
            data: a.category, scale: !a.category, minInterval: a.integer ? 1 : undefined
        })),
        tooltip: {trigger: "item", formatter: p => escapeText(p.name)},
        visualMap: visual,
        series: [{type: "parallel", data, smooth: false, inactiveOpacity: 0.06, activeOpacity: 0.9,
                  lineStyle: {width: 1.6, opacity: 0.7, color: visual ? undefined : "#4c78a8"},
                  emphasis: {lineStyle: {width: 3, opacity: 1}}}]
    }, {notMerge: true});
    let restored = false;
    for (const [name, iv] of Object.entries(state.brush)) {
        const i = axes.findIndex(a => a.name === name);
        if (i >= 0 && iv.length) {
            parallelChart.dispatchAction({type: "axisAreaSelect", parallelAxisId: "axis" + i, intervals: iv});
            restored = true;
        }
    }
    /* the action selects the lines; the brushes' boxes come with the axes' next drawing */
    if (restored) parallelChart.setOption({parallelAxis: axes.map((a, i) => ({id: "axis" + i}))});
    colourSel.textContent = "";
    axes.forEach((a, i) => { if (!a.category) colourSel.append(el("option", {value: a.name}, a.name)); });
    colourSel.value = axes[ci].name;
    note.textContent = "one line per run; drag along an axis to select a range, click it off to clear";
}

/* ---- the configurations' table ---- */

function stats(rs, get) {
    const v = rs.filter(r => r.ok).map(get).filter(x => typeof x === "number" && Number.isFinite(x));
    if (!v.length) return null;
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (v.length - 1)) : 0;
    return {mean, sd, n: v.length};
}

function tableColumns() {
    const cols = [{name: "config", text: true, get: g => g.name}];
    for (const n of valueNames) cols.push({name: n, get: g => g.values[n], text: true});
    if (groups.some(g => g.params != null)) cols.push({name: "params", get: g => g.params});
    cols.push({name: "runs", get: g => g.runs.filter(r => r.ok).length, runs: true});
    for (const m of metricNames.concat(columnNames.includes("seconds") ? ["seconds"] : []))
        cols.push({name: m, stat: true, get: g => { const s = stats(g.runs, r => r.final[m]); return s ? s.mean : NaN; },
                   cell: g => stats(g.runs, r => r.final[m])});
    return cols;
}

/* the filter: words that must all appear in the row, or NAME=VALUE, NAME<V, NAME>V */
function rowMatches(g, cols, filter) {
    for (const word of filter.trim().split(/\s+/).filter(Boolean)) {
        const m = /^([\w.]+)(=|<|>)(.+)$/.exec(word);
        if (m) {
            const col = cols.find(c => c.name === m[1]);
            if (!col) return false;
            const v = col.get(g);
            if (m[2] === "=" && String(v) !== m[3] && Number(v) !== Number(m[3])) return false;
            if (m[2] === "<" && !(Number(v) < Number(m[3]))) return false;
            if (m[2] === ">" && !(Number(v) > Number(m[3]))) return false;
        } else {
            const text = cols.map(c => fmt(c.get(g))).join(" ").toLowerCase();
            if (!text.includes(word.toLowerCase())) return false;
        }
    }
    return true;
}

function drawTable() {
    const cols = tableColumns();
    const table = document.getElementById("table");
    table.textContent = "";
    const head = el("tr");
    for (const c of cols) {
        const th = el("th", {class: (c.text ? "text " : "") + (state.sort === c.name ? "sorted" + (state.desc ? " desc" : "") : "")}, c.name);
        th.addEventListener("click", () => {
            state.desc = state.sort === c.name ? !state.desc : false;
            state.sort = c.name;
            save();
            drawTable();
        });
        head.append(th);
    }
    table.append(el("thead", null, head));
    let rows = groups.filter(g => g.runs.some(selected) && rowMatches(g, cols, state.filter));
    const sortCol = cols.find(c => c.name === state.sort);
    if (sortCol) {
        const key = g => sortCol.get(g);
        rows = rows.slice().sort((a, b) => {
            const x = key(a), y = key(b);
            const bad = v => v == null || (typeof v === "number" && Number.isNaN(v));
            if (bad(x) || bad(y)) return bad(x) - bad(y);
            const d = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), undefined, {numeric: true});
            return state.desc ? -d : d;
        });
    }
    const body = el("tbody");
    for (const g of rows) {
        const tr = el("tr", {title: g.runs.map(r => r.path).join("\n")});
        for (const c of cols) {
            if (c.stat) {
                const s = c.cell(g);
                tr.append(el("td", {"data-col": c.name}, s ? fmt(s.mean) : "",
                             s && s.n > 1 ? el("span", {class: "sd"}, " \u00b1 " + fmt(s.sd)) : null));
            } else if (c.runs) {
                const failed = g.runs.filter(r => r.status === "diverged").length;
                const going = g.runs.filter(r => !r.summary).length;
                tr.append(el("td", {class: failed ? "failed" : "", "data-col": c.name},
                             String(c.get(g)) + (failed ? " (" + failed + " failed)" : "") +
                             (going ? " (+" + going + " " + (BOARD.refresh > 0 ? "running" : "unfinished") + ")" : "")));
            } else {
                tr.append(el("td", {class: c.text ? "text" : "", "data-col": c.name}, fmt(c.get(g))));
            }
        }
        tr.addEventListener("click", () => {
            state.unpicked = runs.filter(r => !g.runs.includes(r)).map(r => r.path);
            state.run = g.runs[0].path;
            save();
            drawAll();
        });
        body.append(tr);
    }
    table.append(body);
    document.getElementById("table-note").textContent =
        rows.length + " of " + groups.length + " configurations (click a row to show only its runs)";
}

/* ---- one run ---- */

function drawRun() {
    const pick = document.getElementById("run-pick");
    pick.textContent = "";
    for (const r of runs) pick.append(el("option", {value: r.path}, r.path));
    const r = runs.find(x => x.path === state.run) || runs.find(selected) || runs[0];
    const conf = document.getElementById("run-config");
    const summ = document.getElementById("run-summary");
    const figs = document.getElementById("run-figures");
    conf.textContent = summ.textContent = figs.textContent = "";
    if (!r) return;
    pick.value = r.path;
    const kv = el("table", {class: "kv"});
    const c = r.config ? flatten(r.config, "", {}) : {};
    if (r.config) for (const k of ["seed", "log"]) if (r.config[k] != null) c[k] = r.config[k];
    if (r.config && r.config.command) c.command = r.config.command.join(" ");
    for (const [k, v] of Object.entries(c)) kv.append(el("tr", null, el("td", null, k), el("td", null, fmt(v))));
    conf.append(el("h3", {style: "font-size:13px;margin:0 0 4px"}, "config.json"),
                r.config ? kv : el("div", {class: "empty"}, "no config.json"));
    const s = r.summary;
    const st = el("p", null, "status: ", el("span", {class: "status-" + r.status}, r.status),
                  s && s.message ? " (" + s.message + ")" : "");
    summ.append(st);
    if (s && s.final) {
        const t = el("table", {class: "kv"});
        for (const which of ["final", "best"])
            if (s[which]) t.append(el("tr", null, el("td", null, which),
                el("td", null, Object.entries(s[which]).map(([k, v]) => k + " " + fmt(v)).join(", "))));
        summ.append(t);
    }
    for (const f of r.figures)
        figs.append(el("figure", null, el("img", {src: f.src, alt: f.name}), el("figcaption", null, f.name)));
    if (!r.figures.length)
        figs.append(el("div", {class: "empty"}, "no figures (the run had --no-plots, or gnuplot was missing)"));
}

function drawSweepFigures() {
    const box = document.getElementById("sweep-figures");
    box.textContent = "";
    for (const s of sweeps)
        for (const f of s.figures)
            box.append(el("figure", null, el("img", {src: f.src, alt: f.name}),
                          el("figcaption", null, (s.path === "." ? "" : s.path + "/") + f.name)));
    document.getElementById("sec-sweep-figures").hidden = !box.children.length;
}

function drawSelection() {
    const n = runs.filter(selected).length;
    document.getElementById("selected-note").textContent =
        Object.values(state.brush).some(iv => iv.length) ? n + " of " + runs.length + " runs selected" : "";
}

function drawAll() {
    drawRunList();
    drawCurves();
    drawTable();
    drawRun();
    drawSelection();
}

/* ---- wiring ---- */

function setup() {
    document.getElementById("title").textContent = "nnc board: " + BOARD.title;
    document.title = "nnc board: " + BOARD.title;
    const meta = document.getElementById("meta");
    /* a sweep's plan names every run to come: how far it has got */
    const planned = sweeps.reduce((n, s) => n + (s.plan.configs || []).length * (s.plan.repeat || 1), 0);
    const inSweeps = runs.filter(r => r.sweep).length;
    const finished = runs.filter(r => r.summary).length;
    meta.textContent = runs.length + " run" + (runs.length === 1 ? "" : "s") +
        (planned > inSweeps ? " (" + finished + " finished; the sweep plans " + planned + ")" : "") + ", " +
        groups.length + " configuration" + (groups.length === 1 ? "" : "s") + "; written " + BOARD.written;
    if (BOARD.refresh > 0) {
        meta.append(" ", el("span", {class: "live", title: "work in progress: this page reloads itself"},
                            "live, every " + BOARD.refresh + " s"));
        setTimeout(() => location.reload(), BOARD.refresh * 1000);
    }
    const metric = document.getElementById("metric");
    const choices = columnNames.filter(c => !["epoch", "step"].includes(c) && !c.startsWith("test_"));
    for (const c of columnNames) if (c.startsWith("test_") && !choices.includes(c.slice(5))) choices.push(c);
    for (const c of choices) metric.append(el("option", {value: c}, c));
    if (!choices.includes(state.metric)) state.metric = choices[0] || "loss";
    const bind = (id, key, prop, after) => {
        const e = document.getElementById(id);
        e[prop] = state[key];
        e.addEventListener(prop === "checked" ? "change" : "input", () => {
            state[key] = prop === "value" && e.type === "range" ? Number(e.value) : e[prop];
            save();
            after();
        });
    };
    bind("metric", "metric", "value", drawCurves);
    bind("train", "train", "checked", drawCurves);
    bind("test", "test", "checked", drawCurves);
    bind("xaxis", "x", "value", drawCurves);
    bind("smooth", "smooth", "value", () => {
        document.getElementById("smooth-value").textContent = state.smooth.toFixed(2);
        drawCurves();
    });
    document.getElementById("smooth-value").textContent = Number(state.smooth).toFixed(2);
    bind("logy", "logy", "checked", drawCurves);
    bind("logx", "logx", "checked", drawCurves);
    bind("mean", "mean", "checked", drawCurves);
    bind("run-filter", "runFilter", "value", drawRunList);
    bind("table-filter", "filter", "value", drawTable);
    bind("colour", "colour", "value", drawParallel);
    document.getElementById("pick-all").addEventListener("click", () => {
        state.unpicked = [];
        save();
        drawAll();
    });
    document.getElementById("pick-none").addEventListener("click", () => {
        state.unpicked = runs.map(r => r.path);
        save();
        drawAll();
    });
    document.getElementById("run-pick").addEventListener("change", e => {
        state.run = e.target.value;
        save();
        drawRun();
    });
    document.getElementById("clear-brush").addEventListener("click", () => {
        state.brush = {};
        save();
        drawParallel();
        drawAll();
    });

    curvesChart = echarts.init(document.getElementById("curves"), null, {renderer: "canvas"});
    curvesChart.on("click", p => {
        const s = curvesChart.getOption().series[p.seriesIndex];
        const path = String((s && s.id) || "").split("|")[0];
        if (runs.some(r => r.path === path)) {
            state.run = path;
            save();
            drawRun();
        }
    });
    setupAxes();
    if (runs.length >= 2 && axes.length >= 2) {
        parallelChart = echarts.init(document.getElementById("parallel"), null, {renderer: "canvas"});
        parallelChart.on("axisareaselected", p => {
            const i = Number(String(p.parallelAxisId).replace(/^axis/, ""));
            if (!axes[i]) return;
            state.brush[axes[i].name] = (p.intervals || []).map(iv => [iv[0], iv[1]]);
            save();
            drawAll();
        });
        drawParallel();
    } else {
        document.getElementById("parallel").hidden = true;
        document.getElementById("parallel-note").textContent = "(for two runs or more, with two axes or more)";
    }
    drawSweepFigures();
    drawAll();
    window.addEventListener("resize", () => {
        curvesChart.resize();
        if (parallelChart) parallelChart.resize();
    });
}

/* for tests and the curious: the page's runs, state and charts */
window.nncBoard = {runs, groups, axes, state, selected, charts: () => ({curves: curvesChart, parallel: parallelChart})};
setup();
