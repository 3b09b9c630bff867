// The HTML report (report/html.ts, report/timeline.ts) of a sample report of four nodes with
// healthy, due, expired and drifted certificates and a missing file: the page loads nothing and
// escapes its text; each bar's tick sits where the classifier makes it due; headless Chromium
// renders it to a PNG, decoded here, with the bars in their states' colours, and its DOM holds
// every label. The colour check is shown to fail on the same page without its bars.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { takeTimelinePicture } from "../../../docs/report-timeline";
import type { Report } from "../../../report/classify";
import { STATE_COLOURS, TODAY_COLOUR } from "../../../report/colours";
import { renderHtml } from "../../../report/html";
import { tableRows } from "../../../report/render";
import { commonName } from "../../../report/timeline";
import { dumpDom } from "../support/chromium";
import { OpenSsl } from "../support/openssl";
import { colourCounts, decodePng, Image } from "../support/png";
import { SAMPLE_NOW, sampleReport } from "../support/sampleReport";

/**
 * A colour counts as one of the picture's when it covers this many pixels: a bar of 14 px height
 * over 70 px or more (the legend's swatch of a colour is 14 x 14 = 196 px, its antialiased text less).
 */
const MIN_PIXELS = 1000;
/** The background, the zebra rows, the text, the grid, the ticks and the bars of ok, due, expired and drifted. */
const MIN_COLOURS = 8;

/** What keeps a picture of the timeline from showing its bars: too few colours, or too few pixels of a state's bars. */
function barColourProblems(image: Image, states: (keyof typeof STATE_COLOURS)[]): string[] {
    const counts = colourCounts(image);
    const colours = [...counts].filter(([, n]) => n >= MIN_PIXELS).map(([c]) => c);
    const problems = colours.length < MIN_COLOURS ? [`${colours.length} colours on ${MIN_PIXELS} pixels or more (${colours.join(" ")}), not ${MIN_COLOURS}`] : [];
    for (const state of states) {
        const n = counts.get(STATE_COLOURS[state]) ?? 0;
        if (n < MIN_PIXELS) problems.push(`${state} ${STATE_COLOURS[state]}: ${n} pixels, fewer than ${MIN_PIXELS}`);
    }
    return problems;
}

/** The SVG of a page. */
const svgOf = (page: string) => /<svg[^>]*class="timeline"[\s\S]*<\/svg>/.exec(page)?.[0] ?? "";

describe("report: HTML page with a timeline, rendered by headless Chromium", function () {
    const ssl = new OpenSsl();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-report-html-test-"));
    let report: Report;
    let html: string;
    let picture: Image;
    let barless: Image;
    let dom: string;
    before(async function () {
        this.timeout(40_000);
        report = sampleReport(ssl);
        html = renderHtml(report);
        const htmlFile = path.join(dir, "report.html");
        fs.writeFileSync(htmlFile, html);
        const withoutBars = html.replace(/<rect class="bar [^>]*>[\s\S]*?<\/rect>/g, "");
        assert.ok(withoutBars.length < html.length && !withoutBars.includes(`class="bar `), "the bars were taken out");
        const [png, barlessPng] = [path.join(dir, "report.png"), path.join(dir, "barless.png")];
        [, , dom] = await Promise.all([takeTimelinePicture(report, png), takeTimelinePicture(report, barlessPng, withoutBars), dumpDom(htmlFile)]);
        picture = decodePng(fs.readFileSync(png));
        barless = decodePng(fs.readFileSync(barlessPng));
    });
    after(() => {
        ssl.remove();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the sample: every state of the picture, classified at a fixed time", () => {
        const states = tableRows(report).map((r) => r.state);
        assert.deepEqual([...new Set(states)].sort(), ["drifted", "due", "expired", "missing", "ok"]);
        assert.deepEqual([report.generatedAt, report.warnDays, report.summary.exitCode, report.nodes.length], [SAMPLE_NOW.toISOString(), 60, 2, 4]);
    });

    it("self-contained: no script, no link, no source, no URL but the SVG namespace; a CSP that forbids loading", () => {
        assert.ok(!/<script|<link|<img|<iframe|<object|\bsrc=|\bhref=|url\(|@import/i.test(html), "nothing that loads");
        assert.deepEqual(html.match(/[a-z]+:\/\/[^"'\s<]*/gi), ["http://www.w3.org/2000/svg"]);
        assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/);
        assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
    });

    it("labels: every row's node, file and common name in the SVG, and its date and state; the legend; today", () => {
        const svg = svgOf(html);
        for (const r of tableRows(report)) {
            assert.ok(svg.includes(`>${r.node}</text>`) && svg.includes(`>${r.file}</text>`), `${r.node} ${r.file}`);
            if (r.subject) assert.ok(svg.includes(`>${commonName(r.subject)}</text>`), commonName(r.subject));
        }
        assert.ok(svg.includes(">CN=etcdpeer1</text>") && svg.includes(">2026-11-16 (-15 d)</text>") && svg.includes(">expired, due from 2026-09-17</text>"));
        assert.ok(svg.includes(">no certificate: missing</text>"), "the missing file's row");
        for (const label of ["healthy", "due (fewer than 60 days left)", "expired", "drifted (not the state&#39;s)", "today", "falls due (notAfter - 60 days)"]) {
            assert.ok(svg.includes(`>${label}</text>`), `legend: ${label}`);
        }
        assert.ok(svg.includes(">today 2026-12-01</text>"));
    });

    it("bars: one per dated row in its state's colour; the tick where each falls due is left of today exactly for the due, expired and drifted-and-due ones", () => {
        const svg = svgOf(html);
        const rows = tableRows(report);
        const bars = [...svg.matchAll(/<rect class="bar state-([a-z-]+)"[^>]* fill="(#[0-9a-f]{6})"/g)].map((m) => [m[1], m[2]]);
        assert.deepEqual(bars, rows.filter((r) => r.notAfter).map((r) => [r.state, STATE_COLOURS[r.state]]));
        const todayX = Number(/<line class="today" x1="([\d.]+)"/.exec(svg)![1]);
        const groups = [...svg.matchAll(/<g class="row state-([a-z-]+)">([\s\S]*?)<\/g>/g)];
        assert.equal(groups.length, rows.length);
        groups.forEach((g, i) => {
            const r = rows[i]!;
            const tick = /<line class="due-date" x1="([\d.]+)"/.exec(g[2]!);
            if (!r.notAfter) return assert.equal(tick, null, `${r.file}: no certificate, no tick`);
            if (!tick) return assert.ok(r.daysLeft! - report.warnDays > 365, `${r.node} ${r.file}: no tick, as it falls due past the axis`);
            const dueByDate = r.daysLeft! < report.warnDays;
            assert.equal(Number(tick![1]) < todayX, dueByDate, `${r.node} ${r.file} (${r.daysLeft} days left): its tick ${tick![1]}, today ${todayX}`);
        });
    });

    it("escapes what it prints: a node, a subject, a stack and a problem made of markup stay text", () => {
        const evil = "<img src=x onerror=alert(1)>&\"'";
        const node = { ...report.nodes[0]!, name: evil, files: report.nodes[0]!.files.map((f) => ({ ...f, problems: [evil], certificates: f.certificates.map((c) => ({ ...c, subject: `CN=${evil}` })) })) };
        const page = renderHtml({ ...report, stack: evil, nodes: [node, ...report.nodes.slice(1)] });
        assert.ok(!page.includes("<img") && !page.includes(evil), "no raw markup");
        const escaped = "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#39;";
        assert.ok(svgOf(page).includes(`>${escaped}</text>`) && svgOf(page).includes(`>CN=${escaped}</text>`), "in the SVG");
        assert.ok(page.includes(`<li>${escaped} /etc/kubernetes/certs/ca.crt: ${escaped}</li>`), "in the problems");
        assert.ok(page.includes(`<title>Certificates of stack ${escaped}: failing</title>`), "in the title");
    });

    it("Chromium's picture is not blank: eight colours or more, and the bars of every state (due and expired among them) in theirs", () => {
        assert.deepEqual([picture.width, picture.height], [barless.width, barless.height]);
        assert.ok(picture.width > 1000 && picture.height > 500, `${picture.width}x${picture.height}`);
        assert.deepEqual(barColourProblems(picture, ["ok", "due", "expired", "drifted"]), []);
        const counts = colourCounts(picture);
        assert.ok((counts.get(TODAY_COLOUR) ?? 0) > 500, `today's line: ${counts.get(TODAY_COLOUR)} pixels`);
    });

    it("the check fails on the same page without its bars", () => {
        const problems = barColourProblems(barless, ["ok", "due", "expired", "drifted"]);
        assert.match(problems[0]!, new RegExp(`^\\d colours on ${MIN_PIXELS} pixels or more .*, not ${MIN_COLOURS}$`));
        for (const state of ["ok", "due", "expired", "drifted"] as const) {
            assert.ok(problems.some((p) => p.startsWith(`${state} ${STATE_COLOURS[state]}: `)), `${state}: ${problems.join("; ")}`);
        }
    });

    it("Chromium's DOM: the SVG as parsed holds every bar and label", () => {
        const svg = svgOf(dom);
        const rows = tableRows(report);
        assert.equal([...svg.matchAll(/<rect class="bar state-/g)].length, rows.filter((r) => r.notAfter).length);
        for (const r of rows) assert.ok(svg.includes(`>${r.node}</text>`) && svg.includes(`>${r.file}</text>`), `${r.node} ${r.file}`);
        assert.ok(svg.includes(">today 2026-12-01</text>") && svg.includes(">no certificate: missing</text>"));
        assert.match(dom, /<td>k8s-agentpool1-31415926-0<\/td><td>\/etc\/kubernetes\/certs\/client\.crt<\/td>.*drifted<\/td><\/tr>/);
    });
});
