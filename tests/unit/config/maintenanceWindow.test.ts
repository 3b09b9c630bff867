// The maintenanceWindow section: what it accepts (weekdays, a local start, durations in several
// spellings, an IANA zone defaulting to UTC; unset or {} is no window) and every bad field named.
import { strict as assert } from "assert";
import { parseMaintenanceWindowConfig } from "../../../components/config";
import { configProblems } from "../support/config";

const VALID = { days: ["Sat", "Sun"], start: "22:00", duration: "6h", timeZone: "Europe/Berlin" };

describe("config: maintenanceWindow", () => {
    it("unset or {} is no window", () => {
        assert.equal(parseMaintenanceWindowConfig(undefined), undefined);
        assert.equal(parseMaintenanceWindowConfig({}), undefined);
    });

    it("reads days (any case, once each), the start in minutes, the duration and the time zone (default UTC)", () => {
        assert.deepEqual(parseMaintenanceWindowConfig(VALID), { days: ["Sat", "Sun"], startMinutes: 22 * 60, durationMinutes: 360, timeZone: "Europe/Berlin" });
        assert.deepEqual(parseMaintenanceWindowConfig({ days: ["mon", "MON", "fri"], start: "00:05", duration: 90 }), { days: ["Mon", "Fri"], startMinutes: 5, durationMinutes: 90, timeZone: "UTC" });
    });

    it("reads durations as 4h, 90m, 1h30m, 2d, 7d, or minutes (number or digits)", () => {
        const minutes = (duration: unknown) => parseMaintenanceWindowConfig({ ...VALID, duration })!.durationMinutes;
        assert.deepEqual(["4h", "90m", "1h30m", "2d", "7d", 240, "240"].map(minutes), [240, 90, 90, 2880, 10080, 240, 240]);
    });

    it("names the key of every bad field", () => {
        assert.deepEqual(configProblems(() => parseMaintenanceWindowConfig({ days: ["Sa", 6], start: "24:00", duration: "4 hours", timeZone: "Mars/Olympus", timezone: "UTC" })), [
            "maintenanceWindow.timezone: unknown key (did you mean maintenanceWindow.timeZone?); known: days, start, duration, timeZone",
            'maintenanceWindow.days[0]: must be a weekday: Sun, Mon, Tue, Wed, Thu, Fri, Sat, got "Sa"',
            "maintenanceWindow.days[1]: must be a string, got 6",
            'maintenanceWindow.start: must be a local time "HH:MM" from 00:00 to 23:59, got "24:00"',
            'maintenanceWindow.timeZone: must be an IANA time zone name such as "Europe/Berlin" or "UTC", got "Mars/Olympus"',
            'maintenanceWindow.duration: must be a duration such as "4h", "90m", "1h30m", "2d", or a number of minutes, got "4 hours"',
        ]);
    });

    it("requires days, start and duration, and a duration from 1 minute to 7 days", () => {
        assert.deepEqual(configProblems(() => parseMaintenanceWindowConfig({ timeZone: "UTC" })), [
            "maintenanceWindow.days: required: a list of the weekdays the window opens on",
            "maintenanceWindow.start: required",
            "maintenanceWindow.duration: required",
        ]);
        assert.deepEqual(configProblems(() => parseMaintenanceWindowConfig({ ...VALID, days: [] })), ["maintenanceWindow.days: required: a list of the weekdays the window opens on"]);
        assert.deepEqual(configProblems(() => parseMaintenanceWindowConfig({ ...VALID, days: "Sat" })), ['maintenanceWindow.days: must be a list, got "Sat"']);
        const durationProblem = (duration: unknown) => configProblems(() => parseMaintenanceWindowConfig({ ...VALID, duration }));
        assert.deepEqual(["0m", "7d1m", 0].map(durationProblem), [
            ['maintenanceWindow.duration: must be from 1 minute to 7 days, got "0m"'],
            ['maintenanceWindow.duration: must be from 1 minute to 7 days, got "7d1m"'],
            ["maintenanceWindow.duration: must be from 1 minute to 7 days, got 0"],
        ]);
        assert.deepEqual(durationProblem(2.5), ['maintenanceWindow.duration: must be a duration such as "4h", "90m", "1h30m", "2d", or a number of minutes, got 2.5']);
    });

    it("is an object", () => {
        assert.deepEqual(configProblems(() => parseMaintenanceWindowConfig("Sat 22:00")), ['maintenanceWindow: must be an object, got "Sat 22:00"']);
    });
});
