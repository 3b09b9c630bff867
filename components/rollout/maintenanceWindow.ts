// The maintenance window's arithmetic, with Node's Intl only: whether an instant is inside the
// window and when the next one opens. A window opens on each listed weekday at a wall-clock time
// in its time zone (so it follows DST changes) and lasts its duration in elapsed time (a 6 h window
// is 6 hours of work, also on the night the clocks change); it may run past midnight and up to 7 days.

export const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface MaintenanceWindow {
    days: Weekday[];
    /** Minutes after local midnight the window opens. */
    startMinutes: number;
    durationMinutes: number;
    /** IANA time zone name. */
    timeZone: string;
}

export const MAX_DURATION_MINUTES = 7 * 24 * 60;

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** Where an instant stands against the window: the opening it is in, if any, and the next opening after it. */
export interface WindowPosition {
    openedAt?: Date;
    nextStart: Date;
}

export function positionInWindow(window: MaintenanceWindow, now: Date): WindowPosition {
    // a window that opened up to 7 days (its longest duration) before today's date may still be open
    const today = localDate(now, window.timeZone);
    const openings = [];
    for (let offset = -8; offset <= 8; offset++) {
        const date = new Date(today.getTime() + offset * DAY_MS);
        if (window.days.includes(WEEKDAYS[date.getUTCDay()]!)) openings.push(wallClockToInstant(date, window.startMinutes, window.timeZone));
    }
    const openedAt = openings.filter((start) => start <= now && now.getTime() < start.getTime() + window.durationMinutes * MINUTE_MS).pop();
    const nextStart = openings.find((start) => start > now)!;
    return { ...(openedAt ? { openedAt } : {}), nextStart };
}

/** "Sat, Sun 22:00 for 6h (Europe/Berlin)". */
export function describeWindow(window: MaintenanceWindow): string {
    // the working week's order: "Sat, Sun", not "Sun, Sat"
    const days = [...WEEKDAYS.slice(1), WEEKDAYS[0]].filter((d) => window.days.includes(d)).join(", ");
    return `${days} ${clock(window.startMinutes)} for ${describeDuration(window.durationMinutes)} (${window.timeZone})`;
}

/** "Sat 2026-03-28 22:00 Europe/Berlin (21:00 UTC)". */
export function describeInstant(instant: Date, timeZone: string): string {
    const local = describeLocal(instant, timeZone);
    if (timeZone === "UTC") return `${local} UTC`;
    const utc = describeLocal(instant, "UTC");
    const sameDay = utc.slice(0, 14) === local.slice(0, 14);
    return `${local} ${timeZone} (${sameDay ? utc.slice(15) : utc} UTC)`;
}

function describeLocal(instant: Date, timeZone: string): string {
    const p = wallClock(instant, timeZone);
    const date = new Date(Date.UTC(p.year, p.month - 1, p.day));
    return `${WEEKDAYS[date.getUTCDay()]} ${date.toISOString().slice(0, 10)} ${clock(p.hour * 60 + p.minute)}`;
}

function describeDuration(minutes: number): string {
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    return hours === 0 ? `${rest}m` : rest === 0 ? `${hours}h` : `${hours}h${rest}m`;
}

const clock = (minutes: number): string => `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;

interface WallClock {
    year: number;
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall clock in a time zone at an instant. */
function wallClock(instant: Date, timeZone: string): WallClock {
    let format = formatters.get(timeZone);
    if (!format) {
        format = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
        formatters.set(timeZone, format);
    }
    const parts = Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, Number(p.value)]));
    return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** The local calendar date at an instant, as midnight UTC of that date (its getUTCDay is the local weekday). */
function localDate(instant: Date, timeZone: string): Date {
    const p = wallClock(instant, timeZone);
    return new Date(Date.UTC(p.year, p.month - 1, p.day));
}

/** How far the zone's wall clock is ahead of UTC at an instant, in ms. */
function offsetMs(instant: Date, timeZone: string): number {
    const p = wallClock(instant, timeZone);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(instant.getTime() / 1000) * 1000;
}

/**
 * The instant a zone's clock shows `minutes` after midnight of `date`. A time the clocks skip (02:30
 * when they jump from 02:00 to 03:00) is read with the offset before the jump, so it lands as late
 * after the jump (03:30); a time they show twice (when they fall back) is its first occurrence.
 */
function wallClockToInstant(date: Date, minutes: number, timeZone: string): Date {
    const asUtc = date.getTime() + minutes * MINUTE_MS;
    // one change of offset at most in a day either side
    const offsets = [offsetMs(new Date(asUtc - DAY_MS), timeZone), offsetMs(new Date(asUtc + DAY_MS), timeZone)];
    const candidates = offsets.map((offset) => asUtc - offset).sort((a, b) => a - b);
    const shown = candidates.find((t) => t + offsetMs(new Date(t), timeZone) === asUtc);
    return new Date(shown ?? asUtc - offsets[0]!);
}
