// The maintenance-window section of the stack config: when `pulumi up` may change the nodes
// (`maintenanceWindow`: weekdays, a local start time, a duration, an IANA time zone). Unset or {}
// means no window: every run may change the nodes. The arithmetic is in rollout/maintenanceWindow.ts.
import * as pulumi from "@pulumi/pulumi";
import { MAX_DURATION_MINUTES, MaintenanceWindow, Weekday, WEEKDAYS } from "../rollout/maintenanceWindow";
import type { AcceptedKeys, ConfigKeyDoc } from "./keys";
import { CONFIG_NAMESPACE, ConfigError, Section } from "./reader";

export const MAINTENANCE_WINDOW_KEY = "maintenanceWindow";
/** The fields of the `maintenanceWindow` object: what parseMaintenanceWindowConfig accepts. */
export const MAINTENANCE_WINDOW_FIELDS = ["days", "start", "duration", "timeZone"] as const;

/** The keys of this section (see keys.ts). */
export const MAINTENANCE_WINDOW_ACCEPTS: AcceptedKeys = { "": [MAINTENANCE_WINDOW_KEY], [MAINTENANCE_WINDOW_KEY]: MAINTENANCE_WINDOW_FIELDS };

/** The documentation of the key this section reads (see keys.ts). */
export const MAINTENANCE_WINDOW_KEY_DOCS: ConfigKeyDoc[] = [
    {
        key: MAINTENANCE_WINDOW_KEY,
        type: "object",
        default: "unset (always)",
        description:
            'when `pulumi up` may change the nodes: {days (a list of Mon … Sun), start (local "HH:MM"), duration ("4h"; "90m"; "1h30m"; "2d" or minutes; at most 7 days), timeZone (IANA name; default UTC)}; a window may run past midnight; outside it an up that would change a node is refused before any remote step, unless AZS_MAINTENANCE_OVERRIDE=1',
    },
];

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/;

/** A duration ("6h", "1h30m", "2d", "90m", or a number of minutes) in minutes, from 1 minute to 7 days. */
function parseDuration(raw: unknown): { value: number } | { refused: string } {
    const text = typeof raw === "number" ? `${raw}m` : typeof raw === "string" && /^\d+$/.test(raw) ? `${raw}m` : raw;
    const match = typeof text === "string" && text !== "" ? DURATION.exec(text) : null;
    if (!match) return { refused: 'must be a duration such as "4h", "90m", "1h30m", "2d", or a number of minutes' };
    const [days, hours, minutes] = match.slice(1).map((part) => Number(part ?? 0));
    const total = (days! * 24 + hours!) * 60 + minutes!;
    return total >= 1 && total <= MAX_DURATION_MINUTES ? { value: total } : { refused: "must be from 1 minute to 7 days" };
}

const checkClock = (s: string): string | undefined => (/^([01]\d|2[0-3]):[0-5]\d$/.test(s) ? undefined : 'must be a local time "HH:MM" from 00:00 to 23:59');

const checkTimeZone = (s: string): string | undefined => {
    try {
        new Intl.DateTimeFormat("en-US", { timeZone: s });
        return undefined;
    } catch {
        return 'must be an IANA time zone name such as "Europe/Berlin" or "UTC"';
    }
};

const checkWeekday = (s: string): string | undefined => (weekday(s) ? undefined : `must be a weekday: ${WEEKDAYS.join(", ")}`);
const weekday = (s: string): Weekday | undefined => WEEKDAYS.find((d) => d.toLowerCase() === s.toLowerCase());

/** Validates `maintenanceWindow`; undefined when it is unset or {}. Throws a ConfigError naming every bad field. */
export function parseMaintenanceWindowConfig(raw: unknown): MaintenanceWindow | undefined {
    if (raw === undefined || raw === null || (typeof raw === "object" && Object.keys(raw).length === 0)) return undefined;
    const problems: string[] = [];
    const w = new Section(MAINTENANCE_WINDOW_KEY, raw, problems);
    // not an object: its fields' absence says nothing more
    if (problems.length > 0) throw new ConfigError(problems);
    w.rejectUnknown(MAINTENANCE_WINDOW_FIELDS);
    const before = problems.length;
    const days = [...new Set(w.stringList("days", checkWeekday).map((d) => weekday(d)!))];
    if (days.length === 0 && problems.length === before) w.report("days", "required: a list of the weekdays the window opens on");
    const start = w.string("start", undefined, checkClock);
    const timeZone = w.string("timeZone", "UTC", checkTimeZone);
    const durationMinutes = w.parsed("duration", parseDuration);
    if (problems.length > 0) throw new ConfigError(problems);
    const [hours, minutes] = start.split(":").map(Number);
    return { days, startMinutes: hours! * 60 + minutes!, durationMinutes: durationMinutes!, timeZone };
}

export function readMaintenanceWindowConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE)): MaintenanceWindow | undefined {
    let raw: unknown;
    try {
        raw = config.getObject<unknown>(MAINTENANCE_WINDOW_KEY);
    } catch {
        throw new ConfigError([`${CONFIG_NAMESPACE}:${MAINTENANCE_WINDOW_KEY}: not valid JSON/YAML`]);
    }
    return parseMaintenanceWindowConfig(raw);
}
