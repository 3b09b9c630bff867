// The expiry report as one self-contained HTML page (--html FILE), pure: the title and status, the
// timeline (inline SVG, report/timeline.ts), then the table's rows, the problems, the notes and the
// summary as the text table has them (report/render.ts). No script, font, stylesheet or image is
// loaded from anywhere, and the page's Content-Security-Policy forbids it.
import type { Report } from "./classify";
import { STATE_COLOURS } from "./colours";
import { escapeMarkup } from "./escape";
import { daysLeftCell, noteLines, notAfterCell, problemLines, reportTitle, summaryLines, tableRows } from "./render";
import { renderTimeline } from "./timeline";

/** The body's margin and the height of the heading and the line under it, above the timeline. */
const PAGE_MARGIN = 16;
const HEADER_HEIGHT = 64;

const STYLE = [
    `body { margin: ${PAGE_MARGIN}px; font-family: 'DejaVu Sans', sans-serif; font-size: 13px; color: #222222; background: #ffffff; }`,
    "h1 { font-size: 20px; height: 26px; margin: 0 0 6px; }",
    "h2 { font-size: 16px; margin: 20px 0 6px; }",
    "p.title { height: 18px; margin: 0 0 14px; color: #555555; }",
    "svg.timeline { display: block; }",
    "table { border-collapse: collapse; font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; }",
    "th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #e5e5e5; white-space: nowrap; }",
    "td.days { text-align: right; }",
    ".swatch { display: inline-block; width: 10px; height: 10px; margin-right: 5px; }",
    "ul, p.lines { font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; }",
    "p.lines { white-space: pre-wrap; }",
].join("\n");

/** The viewport that shows the heading and the whole timeline (the picture of the report). */
export function timelineViewport(report: Report): { width: number; height: number } {
    const { width, height } = renderTimeline(report);
    return { width: width + 2 * PAGE_MARGIN, height: HEADER_HEIGHT + height + PAGE_MARGIN };
}

const cell = (content: string, cls = "") => `<td${cls ? ` class="${cls}"` : ""}>${escapeMarkup(content)}</td>`;

/** The report as a self-contained HTML page. */
export function renderHtml(report: Report): string {
    const s = report.summary;
    const rows = tableRows(report).map(
        (r) =>
            `<tr class="state-${r.state}">${cell(r.node)}${cell(r.file)}${cell(r.subject || "-")}${cell(notAfterCell(r))}${cell(daysLeftCell(r), "days")}` +
            `<td><span class="swatch" style="background: ${STATE_COLOURS[r.state]}"></span>${escapeMarkup(r.state)}</td></tr>`,
    );
    const problems = problemLines(report);
    const notes = noteLines(report);
    return [
        "<!DOCTYPE html>",
        `<html lang="en">`,
        "<head>",
        `<meta charset="utf-8">`,
        `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
        `<title>${escapeMarkup(`Certificates of stack ${report.stack}: ${s.status}`)}</title>`,
        `<style>\n${STYLE}\n</style>`,
        "</head>",
        "<body>",
        `<h1>${escapeMarkup(`Certificates of stack ${report.stack}: ${s.status} (exit ${s.exitCode})`)}</h1>`,
        `<p class="title">${escapeMarkup(reportTitle(report))}</p>`,
        renderTimeline(report).svg,
        "<h2>Certificates, soonest expiry first</h2>",
        `<table>\n<tr><th>node</th><th>file</th><th>subject</th><th>not after</th><th>days left</th><th>state</th></tr>\n${rows.join("\n")}\n</table>`,
        ...(problems.length > 0 ? ["<h2>Problems</h2>", `<ul>\n${problems.map((p) => `<li>${escapeMarkup(p)}</li>`).join("\n")}\n</ul>`] : []),
        ...notes.map((n) => `<p>${escapeMarkup(n)}</p>`),
        "<h2>Summary</h2>",
        `<p class="lines">${summaryLines(report).map(escapeMarkup).join("\n")}</p>`,
        "</body>",
        "</html>",
        "",
    ].join("\n");
}
