// The HTML report's colours: one per state of a table row (report/render.ts), the same in the
// timeline's bars, its legend and the table's swatches, and those of its two kinds of line.
import type { TableRow } from "./render";

export type RowState = TableRow["state"];

const NO_DATES = "#8c8c8c";

export const STATE_COLOURS: Record<RowState, string> = {
    ok: "#2e9d4f",
    due: "#f0a202",
    expired: "#d62728",
    drifted: "#7b3fb5",
    "key-mismatch": "#e377c2",
    missing: NO_DATES,
    unreadable: NO_DATES,
    unreachable: NO_DATES,
    absent: NO_DATES,
};

/** Today, over every row. */
export const TODAY_COLOUR = "#1f5fbf";

/** The date a certificate falls due, on its bar. */
export const DUE_DATE_COLOUR = "#222222";

/** The legend's entries: a colour and what it means (warnDays: the report's warning window). */
export function legendEntries(warnDays: number): { colour: string; label: string }[] {
    return [
        { colour: STATE_COLOURS.ok, label: "healthy" },
        { colour: STATE_COLOURS.due, label: `due (fewer than ${warnDays} days left)` },
        { colour: STATE_COLOURS.expired, label: "expired" },
        { colour: STATE_COLOURS.drifted, label: "drifted (not the state's)" },
        { colour: STATE_COLOURS["key-mismatch"], label: "key mismatch" },
        { colour: NO_DATES, label: "missing, unreadable, not read" },
    ];
}
