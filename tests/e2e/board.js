// board.js - drives a board page (nnc board, docs/board.md) in headless
// Chromium through playwright-core and checks it against the run files it
// was written from; used by board.sh.
//
//   node board.js full BOARD.html ROOT OUTDIR   the page over the runs under ROOT
//   node board.js live BOARD.html OUTDIR        a live board reloads itself
//
// full: no console errors and no network; one line per run (every
// metrics.csv under ROOT) in the parallel coordinates; each run's curves are
// its metrics.csv.  When ROOT is a sweep: the table's means and standard
// deviations are its results.csv, and dragging along the test_accuracy axis
// leaves in the table exactly the configurations with a run in the brushed
// range, and in the curves exactly those runs; the mean of repeats is the
// mean of a configuration's metrics.csv files.  Screenshots go to OUTDIR.
// Prints what failed and exits 1, else prints "ok".
"use strict";
const fs = require("fs");
const path = require("path");
const {chromium} = require("playwright-core");

const [mode, file, ...rest] = process.argv.slice(2);
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

function metricsUnder(root) {
    const out = [];
    (function walk(dir) {
        for (const e of fs.readdirSync(dir, {withFileTypes: true}).sort((a, b) => (a.name < b.name ? -1 : 1))) {
            const p = path.join(dir, e.name);
            if (e.isDirectory() && !e.name.startsWith(".")) walk(p);
            else if (e.name === "metrics.csv") out.push(path.relative(root, dir) || ".");
        }
    })(root);
    return out;
}

function readCSV(p) {
    const lines = fs.readFileSync(p, "utf8").trim().split("\n");
    const cols = lines[0].split(",");
    return lines.slice(1).map(l => {
        const f = l.split(",");
        return Object.fromEntries(cols.map((c, i) => [c, f[i]]));
    });
}

async function open(url) {
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    });
    const page = await browser.newPage({viewport: {width: 1400, height: 900}});
    const errors = [];
    page.on("console", m => { if (m.type() === "error") errors.push("console: " + m.text()); });
    page.on("pageerror", e => errors.push("page error: " + e.message));
    // no network and no other file: anything but the page and its data: URLs is a failure
    const self = "file://" + path.resolve(url);
    page.on("request", r => { if (r.url() !== self && !r.url().startsWith("data:")) errors.push("request: " + r.url()); });
    await page.goto(self);
    await page.waitForFunction(() => window.nncBoard && window.nncBoard.charts().curves);
    return {browser, page, errors};
}

async function full(root, outdir) {
    const {browser, page, errors} = await open(file);
    const want = metricsUnder(root);
    const got = await page.evaluate(() => ({
        runs: nncBoard.runs.map(r => r.path),
        lines: nncBoard.charts().parallel.getOption().series[0].data.length,
        axes: nncBoard.axes.map(a => a.name)
    }));
    check(JSON.stringify(got.runs) === JSON.stringify(want),
          `runs: the page has ${JSON.stringify(got.runs)}, the directory ${JSON.stringify(want)}`);
    check(got.lines === want.length, `parallel coordinates: ${got.lines} lines for ${want.length} runs`);
    const sweep = fs.existsSync(path.join(root, "results.csv"));
    for (const a of sweep ? ["depth", "width", "lr", "params", "test_accuracy"] : ["test_accuracy"])
        check(got.axes.includes(a), `parallel coordinates: no axis ${a} in ${got.axes}`);

    // the curves: each run's loss and test_loss over epochs, as in metrics.csv
    const series = await page.evaluate(() => nncBoard.charts().curves.getOption().series.filter(Boolean).map(s => ({id: s.id, data: s.data})));
    check(series.length === 2 * want.length, `curves: ${series.length} lines for ${want.length} runs (train and test)`);
    for (const run of want) {
        const rows = readCSV(path.join(root, run, "metrics.csv"));
        for (const col of ["loss", "test_loss"]) {
            const s = series.find(x => x.id === run + "|" + col);
            const expect = rows.map(r => [Number(r.epoch), Number(r[col])]);
            check(s && JSON.stringify(s.data) === JSON.stringify(expect),
                  `curves: ${run} ${col} is ${s && JSON.stringify(s.data).slice(0, 200)}, metrics.csv ${JSON.stringify(expect).slice(0, 200)}`);
        }
    }

    if (!sweep) {
        await page.locator("#sec-run").screenshot({path: path.join(outdir, "board-run.png")});
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({path: path.join(outdir, "board.png"), fullPage: true});
        failures.push(...errors);
        await browser.close();
        return;
    }

    // the table: the sweep's means and standard deviations (shown to 4 digits)
    const table = await page.evaluate(() => [...document.querySelectorAll("#table tbody tr")].map(tr =>
        Object.fromEntries([...tr.children].map(td => [td.dataset.col, td.textContent]))));
    const results = readCSV(path.join(root, "results.csv"));
    const close = (a, b) => Math.abs(a - b) <= 1e-3 * Math.max(Math.abs(b), 1e-12);
    for (const res of results) {
        const row = table.find(r => r.config === res.config);
        check(row, `table: no row ${res.config}`);
        if (!row) continue;
        const [mean, sd] = row.test_accuracy.split("\u00b1").map(Number);
        check(close(mean, Number(res.test_accuracy_mean)) && close(sd || 0, Number(res.test_accuracy_std)),
              `table: ${res.config} test_accuracy ${row.test_accuracy}, results.csv ${res.test_accuracy_mean} +- ${res.test_accuracy_std}`);
    }
    const allRows = table.length;

    // mean of repeats: a configuration's line is the mean of its runs' losses
    await page.locator("#mean").check();
    const conf = results[results.length - 1].config;
    const meanLine = await page.evaluate(c => {
        const s = nncBoard.charts().curves.getOption().series.filter(Boolean)
            .find(x => x.id.startsWith("mean:") && x.id.includes(":" + c + "|") && x.id.endsWith("|loss"));
        return s && s.data;
    }, conf);
    const seeds = want.filter(r => r.split("/").slice(-2)[0] === conf).map(r => readCSV(path.join(root, r, "metrics.csv")));
    const expectMean = seeds[0].map((row, k) => [Number(row.epoch), seeds.reduce((a, s) => a + Number(s[k].loss), 0) / seeds.length]);
    check(meanLine && meanLine.length === expectMean.length && meanLine.every((p, k) => p[0] === expectMean[k][0] && close(p[1], expectMean[k][1])),
          `mean of repeats: ${conf}'s loss is ${JSON.stringify(meanLine).slice(0, 200)}, the mean of its runs ${JSON.stringify(expectMean).slice(0, 200)}`);
    await page.locator("#sec-curves").screenshot({path: path.join(outdir, "board-curves-mean.png")});
    await page.locator("#mean").uncheck();

    for (const part of ["curves", "parallel", "table", "run"])
        await page.locator("#sec-" + part).screenshot({path: path.join(outdir, `board-${part}.png`)});

    // brushing: drag along the test_accuracy axis from its top to the
    // median of the runs' final values
    const finals = want.map(run => {
        const rows = readCSV(path.join(root, run, "metrics.csv"));
        return {run, v: Number(rows[rows.length - 1].test_accuracy)};
    });
    const sorted = finals.map(f => f.v).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    await page.locator("#parallel").scrollIntoViewIfNeeded();
    const [from, to] = await page.evaluate(([lo]) => {
        const ch = nncBoard.charts().parallel;
        const cs = ch.getModel().getComponent("parallel").coordinateSystem;
        const dim = cs.dimensions[nncBoard.axes.findIndex(a => a.name === "test_accuracy")];
        const box = ch.getDom().getBoundingClientRect();
        const max = Math.max(...nncBoard.runs.map(r => r.final.test_accuracy));
        const a = cs.dataToPoint(max, dim), b = cs.dataToPoint(lo, dim);
        return [[box.left + a[0], box.top + a[1] - 8], [box.left + b[0], box.top + b[1]]];
    }, [median]);
    await page.mouse.move(from[0], from[1]);
    await page.mouse.down();
    await page.mouse.move(to[0], to[1], {steps: 10});
    await page.mouse.up();
    await page.mouse.move(1, 1);   // no tooltip in the screenshots
    await page.waitForTimeout(300);
    const after = await page.evaluate(() => ({
        brush: nncBoard.state.brush.test_accuracy,
        rows: [...document.querySelectorAll("#table tbody tr td[data-col=config]")].map(td => td.textContent),
        curves: nncBoard.charts().curves.getOption().series.filter(Boolean).map(s => s.id.split("|")[0])
    }));
    check(after.brush && after.brush.length === 1, `brushing: no interval on test_accuracy (${JSON.stringify(after.brush)})`);
    if (after.brush && after.brush.length === 1) {
        const [lo, hi] = after.brush[0];
        const inside = finals.filter(f => f.v >= lo && f.v <= hi).map(f => f.run);
        const configs = [...new Set(inside.map(r => r.split("/").slice(-2)[0]))].sort();
        check(inside.length > 0 && inside.length < want.length,
              `brushing: [${lo}, ${hi}] should hold some runs but not all (${inside.length} of ${want.length})`);
        check(JSON.stringify([...after.rows].sort()) === JSON.stringify(configs),
              `brushing [${lo}, ${hi}]: the table shows ${after.rows}, the runs in range are of ${configs}`);
        check(after.rows.length < allRows, `brushing: the table still has all ${allRows} rows`);
        check(JSON.stringify([...new Set(after.curves)].sort()) === JSON.stringify([...inside].sort()),
              `brushing: the curves show ${[...new Set(after.curves)]}, the runs in range are ${inside}`);
    }
    // a reload (a live board's) keeps the brush
    await page.reload();
    await page.waitForFunction(() => window.nncBoard && window.nncBoard.charts().parallel);
    const again = await page.evaluate(() =>
        [...document.querySelectorAll("#table tbody tr td[data-col=config]")].map(td => td.textContent));
    check(JSON.stringify(again) === JSON.stringify(after.rows),
          `after a reload the table shows ${again}, before it ${after.rows}`);
    await page.locator("#sec-parallel").screenshot({path: path.join(outdir, "board-parallel-brushed.png")});
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({path: path.join(outdir, "board.png"), fullPage: true});
    failures.push(...errors);
    await browser.close();
}

async function live(outdir) {
    const {browser, page, errors} = await open(file);
    const badge = await page.locator(".live").count();
    check(badge === 1, "live: no live badge");
    // a control changed before the reload is as it was after it
    await page.locator("#logy").check();
    const reloaded = page.waitForEvent("load", {timeout: 15000}).then(() => true, () => false);
    check(await reloaded, "live: the page did not reload itself within 15 s");
    await page.waitForFunction(() => window.nncBoard && window.nncBoard.charts().curves);
    check(await page.locator("#logy").isChecked(), "live: log y was lost in the reload");
    await page.screenshot({path: path.join(outdir, "board-live.png")});
    failures.push(...errors);
    await browser.close();
}

(async () => {
    if (mode === "full") await full(rest[0], rest[1]);
    else await live(rest[0]);
    if (failures.length) {
        console.log(failures.join("\n"));
        process.exit(1);
    }
    console.log("ok");
})().catch(e => { console.log(e.stack || String(e)); process.exit(1); });
