// The expiry report's timeline as inline SVG, pure: one bar per row of the table (a certificate
// on a node, report/render.ts, in the table's order) from its notBefore to its notAfter in the
// colour of the row's state, a tick on each bar where it falls due (notAfter minus warnDays, as the
// classifier says) and a line at the report's time ("today"), under a legend. The axis reaches a
// year back and two years ahead at the most; a bar cut at an end of it has a notch there.
import { dueDate, Report } from "./classify";
import { DUE_DATE_COLOUR, legendEntries, STATE_COLOURS, TODAY_COLOUR } from "./colours";
import { escapeMarkup } from "./escape";
import { TableRow, tableRows } from "./render";

const DAY_MS = 86_400_000;
const MAX_PAST_DAYS = 365;
const MAX_FUTURE_DAYS = 730;
/** Today is at least this far from either end of the axis. */
const MIN_MARGIN_DAYS = 30;

const FONT = "'DejaVu Sans Mono', monospace";
/** The advance of DejaVu Sans Mono at 12 px (7.22 px), rounded up: text widths in columns of characters. */
const CHAR_WIDTH = 7.3;
const PAD = 16;
const GAP = 14;
const CHART_WIDTH = 720;
const ROW_HEIGHT = 32;
const BAR_HEIGHT = 14;
const BAR_OFFSET = (ROW_HEIGHT - BAR_HEIGHT) / 2;
const LEGEND_ROW = 22;
const AXIS_HEIGHT = 22;
const STUB_WIDTH = 3;
const GRID_COLOUR = "#dddddd";
const ZEBRA_COLOUR = "#f5f5f5";
const MUTED_COLOUR = "#666666";

export interface TimelineAxis {
    start: Date;
    end: Date;
    /** Month starts between them, every few months so that there are twelve at the most. */
    ticks: Date[];
    /** Whether the ticks are years (labelled 2027) rather than months (2027-03). */
    yearly: boolean;
}

export interface Timeline {
    svg: string;
    width: number;
    height: number;
}

const monthIndex = (d: Date) => d.getUTCFullYear() * 12 + d.getUTCMonth();
const monthStart = (index: number) => new Date(Date.UTC(Math.floor(index / 12), index % 12, 1));

/**
 * The axis of the dated rows: from their earliest notBefore (a year back at the most) to their
 * latest notAfter (two years ahead at the most), whole months, a month or more around today and
 * past the warning window.
 */
export function timelineAxis(rows: TableRow[], now: Date, warnDays: number): TimelineAxis {
    const t = now.getTime();
    const dated = rows.filter((r) => r.notAfter !== "");
    const earliest = Math.min(t, ...dated.map((r) => Date.parse(r.notBefore)));
    const latest = Math.max(t, ...dated.map((r) => Date.parse(r.notAfter)));
    const from = Math.min(Math.max(earliest, t - MAX_PAST_DAYS * DAY_MS), t - MIN_MARGIN_DAYS * DAY_MS);
    const to = Math.max(Math.min(latest, t + MAX_FUTURE_DAYS * DAY_MS), t + (warnDays + MIN_MARGIN_DAYS) * DAY_MS);
    const first = monthIndex(new Date(from));
    const last = monthIndex(new Date(to)) + 1;
    const step = [1, 2, 3, 6, 12, 24, 60].find((s) => (last - first) / s <= 12) ?? 120;
    const ticks: Date[] = [];
    for (let m = Math.ceil(first / step) * step; m <= last; m += step) ticks.push(monthStart(m));
    return { start: monthStart(first), end: monthStart(last), ticks, yearly: step >= 12 };
}

/** A subject's common name ("CN=client"), or the whole subject when it has none. */
export function commonName(subject: string): string {
    return /(?:^|, )(CN=[^,]*)/.exec(subject)?.[1] ?? subject;
}

const day = (iso: string) => iso.slice(0, 10);
const px = (n: number) => String(Math.round(n * 10) / 10);

/** An SVG text element; `text` is escaped here. */
function text(x: number, y: number, content: string, attrs = ""): string {
    return `<text x="${px(x)}" y="${px(y)}"${attrs ? ` ${attrs}` : ""}>${escapeMarkup(content)}</text>`;
}

/** The legend's entries laid out in lines no wider than `width`, from (x, y): the markup and its height. */
function legend(warnDays: number, x: number, y: number, width: number): { markup: string; height: number } {
    const swatch = (colour: string) => (ex: number, ey: number) => `<rect x="${px(ex)}" y="${px(ey)}" width="14" height="14" fill="${colour}"/>`;
    const line = (colour: string, dash: string) => (ex: number, ey: number) =>
        `<line x1="${px(ex + 7)}" y1="${px(ey - 2)}" x2="${px(ex + 7)}" y2="${px(ey + 16)}" stroke="${colour}" stroke-width="2"${dash}/>`;
    const entries = [
        ...legendEntries(warnDays).map((e) => ({ label: e.label, mark: swatch(e.colour) })),
        { label: "today", mark: line(TODAY_COLOUR, "") },
        { label: `falls due (notAfter - ${warnDays} days)`, mark: line(DUE_DATE_COLOUR, "") },
    ];
    const parts: string[] = [];
    let ex = x;
    let ey = y;
    for (const e of entries) {
        const w = 14 + 6 + e.label.length * CHAR_WIDTH + 20;
        if (ex > x && ex + w > x + width) {
            ex = x;
            ey += LEGEND_ROW;
        }
        parts.push(`<g class="legend-entry">${e.mark(ex, ey)}${text(ex + 20, ey + 11.5, e.label)}</g>`);
        ex += w;
    }
    return { markup: parts.join(""), height: ey - y + LEGEND_ROW };
}

/** The report's timeline: the SVG element and its size. */
export function renderTimeline(report: Report): Timeline {
    const rows = tableRows(report);
    const now = new Date(report.generatedAt);
    const axis = timelineAxis(rows, now, report.warnDays);
    const nodeChars = Math.max(4, ...rows.map((r) => r.node.length));
    const fileChars = Math.max(4, ...rows.map((r) => Math.max(r.file.length, commonName(r.subject).length)));
    const fileX = PAD + (nodeChars + 2) * CHAR_WIDTH;
    const chartX = fileX + fileChars * CHAR_WIDTH + GAP;
    const rightX = chartX + CHART_WIDTH + GAP;
    const rightText = (r: TableRow) =>
        r.notAfter === ""
            ? [r.publicKeys !== null ? "no expiry" : "no certificate", r.state]
            : [`${day(r.notAfter)} (${r.daysLeft} d)`, `${r.state}, due from ${day(dueDate(new Date(r.notAfter), report.warnDays).toISOString())}`];
    const rightChars = Math.max(20, ...rows.flatMap(rightText).map((s) => s.length));
    const width = Math.ceil(rightX + rightChars * CHAR_WIDTH + PAD);

    const span = axis.end.getTime() - axis.start.getTime();
    const xOf = (t: number) => chartX + (Math.min(Math.max(t, axis.start.getTime()), axis.end.getTime()) - axis.start.getTime()) / span * CHART_WIDTH;
    /** Where a 2 px line at `t` goes: on a whole pixel, so that it is drawn in its colour and not blurred over two columns. */
    const lineX = (t: number) => Math.round(xOf(t));

    const top = legend(report.warnDays, PAD, PAD, width - 2 * PAD);
    const axisY = PAD + top.height + 6;
    const rowsY = axisY + AXIS_HEIGHT;
    const rowsEnd = rowsY + rows.length * ROW_HEIGHT;
    const out: string[] = [`<g class="legend">${top.markup}</g>`];

    out.push(`<g class="axis">`);
    for (const tick of axis.ticks) {
        const x = lineX(tick.getTime()) + 0.5;
        out.push(`<line x1="${px(x)}" y1="${px(axisY + 4)}" x2="${px(x)}" y2="${px(rowsEnd)}" stroke="${GRID_COLOUR}"/>`);
        if (x < chartX + CHART_WIDTH - 40) out.push(text(x + 3, axisY + 12, tick.toISOString().slice(0, axis.yearly ? 4 : 7), `fill="${MUTED_COLOUR}"`));
    }
    out.push(`</g>`);

    rows.forEach((r, i) => {
        const y = rowsY + i * ROW_HEIGHT;
        const parts: string[] = [];
        if (i % 2 === 1) parts.push(`<rect x="0" y="${px(y)}" width="${width}" height="${ROW_HEIGHT}" fill="${ZEBRA_COLOUR}"/>`);
        parts.push(text(PAD, y + 13, r.node, `font-weight="bold"`), text(fileX, y + 13, r.file));
        if (r.subject) parts.push(text(fileX, y + 26, commonName(r.subject), `font-size="11" fill="${MUTED_COLOUR}"`));
        const colour = STATE_COLOURS[r.state];
        if (r.notAfter === "") {
            parts.push(text(chartX + 4, y + 20, `${r.publicKeys !== null ? "public keys, no expiry" : "no certificate"}: ${r.state}`, `font-style="italic" fill="${MUTED_COLOUR}"`));
        } else {
            parts.push(bar(r, colour, y + BAR_OFFSET));
            const due = dueDate(new Date(r.notAfter), report.warnDays).getTime();
            if (due >= axis.start.getTime() && due <= axis.end.getTime()) {
                parts.push(`<line class="due-date" x1="${lineX(due)}" y1="${px(y + BAR_OFFSET - 4)}" x2="${lineX(due)}" y2="${px(y + BAR_OFFSET + BAR_HEIGHT + 4)}" stroke="${DUE_DATE_COLOUR}" stroke-width="2"/>`);
            }
        }
        const [first, second] = rightText(r);
        parts.push(text(rightX, y + 13, first!), text(rightX, y + 26, second!, `font-size="11" fill="${colour}"`));
        out.push(`<g class="row state-${r.state}">${parts.join("")}</g>`);
    });

    /** The bar of a dated row, cut at the axis (a notch where it goes on; a stub when it is all outside). */
    function bar(r: TableRow, colour: string, y: number): string {
        const from = Date.parse(r.notBefore);
        const to = Date.parse(r.notAfter);
        let x1 = xOf(from);
        let x2 = xOf(to);
        if (x2 - x1 < STUB_WIDTH) [x1, x2] = to <= axis.start.getTime() ? [x1, x1 + STUB_WIDTH] : [x2 - STUB_WIDTH, x2];
        const title = `${r.node} ${r.file} ${r.subject}: ${r.notBefore} to ${r.notAfter}, ${r.state}`;
        const notch = (x: number, dir: 1 | -1) => `<path d="M${px(x)} ${px(y)} l${5 * dir} 7 l${-5 * dir} 7 z" fill="#ffffff"/>`;
        return (
            `<rect class="bar state-${r.state}" x="${px(x1)}" y="${px(y)}" width="${px(x2 - x1)}" height="${BAR_HEIGHT}" fill="${colour}"><title>${escapeMarkup(title)}</title></rect>` +
            (from < axis.start.getTime() && x2 - x1 > 12 ? notch(x1, 1) : "") +
            (to > axis.end.getTime() && x2 - x1 > 12 ? notch(x2, -1) : "")
        );
    }

    const todayX = lineX(now.getTime());
    out.push(
        `<line class="today" x1="${px(todayX)}" y1="${px(axisY + 16)}" x2="${px(todayX)}" y2="${px(rowsEnd + 6)}" stroke="${TODAY_COLOUR}" stroke-width="2"/>`,
        text(todayX, rowsEnd + 20, `today ${day(report.generatedAt)}`, `text-anchor="middle" fill="${TODAY_COLOUR}"`),
    );
    const height = Math.ceil(rowsEnd + 24 + PAD);
    const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="12" role="img">` +
        `<title>${escapeMarkup(`Timeline of the certificates of stack ${report.stack}`)}</title>${out.join("")}</svg>`;
    return { svg, width, height };
}
