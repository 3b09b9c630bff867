// The maintenance window's arithmetic: inside or not, the opening it is in and the next one, in
// UTC and in zones with DST (Europe/Berlin: last Sundays of March and October; America/New_York:
// second Sunday of March, first of November, 2026), across midnight and for days-long windows.
import { strict as assert } from "assert";
import { describeInstant, describeWindow, MaintenanceWindow, positionInWindow, Weekday } from "../../../components/rollout/maintenanceWindow";

const windowOf = (days: Weekday[], start: string, durationMinutes: number, timeZone: string): MaintenanceWindow => {
    const [hours, minutes] = start.split(":").map(Number);
    return { days, startMinutes: hours! * 60 + minutes!, durationMinutes, timeZone };
};

/** Where an instant stands, in ISO strings: the opening it is in (or none) and the next opening. */
function at(window: MaintenanceWindow, iso: string): { openedAt?: string; nextStart: string } {
    const { openedAt, nextStart } = positionInWindow(window, new Date(iso));
    return { ...(openedAt ? { openedAt: openedAt.toISOString() } : {}), nextStart: nextStart.toISOString() };
}

describe("maintenance window arithmetic (Intl only)", () => {
    it("UTC: opens at its start (inclusive), closes after its duration (exclusive), next opening a week on", () => {
        const w = windowOf(["Mon"], "09:00", 240, "UTC");
        assert.deepEqual(at(w, "2026-11-30T08:59:00Z"), { nextStart: "2026-11-30T09:00:00.000Z" });
        assert.deepEqual(at(w, "2026-11-30T09:00:00Z"), { openedAt: "2026-11-30T09:00:00.000Z", nextStart: "2026-12-07T09:00:00.000Z" });
        assert.deepEqual(at(w, "2026-11-30T12:59:59Z"), { openedAt: "2026-11-30T09:00:00.000Z", nextStart: "2026-12-07T09:00:00.000Z" });
        assert.deepEqual(at(w, "2026-11-30T13:00:00Z"), { nextStart: "2026-12-07T09:00:00.000Z" });
    });

    it("across midnight: Saturday 22:00 for 6h is still open on Sunday at 03:00 and closed at 04:00 (Europe/Berlin, winter)", () => {
        const w = windowOf(["Sat"], "22:00", 360, "Europe/Berlin");
        // Sunday 03:00 CET = 02:00 UTC; the window opened Saturday 22:00 CET = 21:00 UTC
        assert.deepEqual(at(w, "2026-12-06T02:00:00Z"), { openedAt: "2026-12-05T21:00:00.000Z", nextStart: "2026-12-12T21:00:00.000Z" });
        assert.deepEqual(at(w, "2026-12-06T03:00:00Z"), { nextStart: "2026-12-12T21:00:00.000Z" });
        // Sunday evening: Sunday is not listed
        assert.deepEqual(at(w, "2026-12-06T22:00:00Z"), { nextStart: "2026-12-12T21:00:00.000Z" });
    });

    describe("Europe/Berlin, clocks forward (Sun 2026-03-29 02:00 CET → 03:00 CEST)", () => {
        it("a window open over the change lasts its duration in elapsed time: Saturday 22:00 CET + 6h ends at 05:00 CEST", () => {
            const w = windowOf(["Sat"], "22:00", 360, "Europe/Berlin");
            assert.deepEqual(at(w, "2026-03-29T02:30:00Z"), { openedAt: "2026-03-28T21:00:00.000Z", nextStart: "2026-04-04T20:00:00.000Z" });
            assert.deepEqual(at(w, "2026-03-29T03:00:00Z"), { nextStart: "2026-04-04T20:00:00.000Z" });
        });

        it("the start follows the local clock: 22:00 is 21:00 UTC before the change and 20:00 UTC after", () => {
            const w = windowOf(["Sat", "Sun"], "22:00", 60, "Europe/Berlin");
            assert.equal(at(w, "2026-03-28T12:00:00Z").nextStart, "2026-03-28T21:00:00.000Z");
            assert.equal(at(w, "2026-03-29T12:00:00Z").nextStart, "2026-03-29T20:00:00.000Z");
        });

        it("a start the clocks skip (02:30) opens as late after the jump (03:30 CEST)", () => {
            const w = windowOf(["Sun"], "02:30", 60, "Europe/Berlin");
            assert.equal(at(w, "2026-03-28T12:00:00Z").nextStart, "2026-03-29T01:30:00.000Z");
            assert.deepEqual(at(w, "2026-03-29T02:00:00Z"), { openedAt: "2026-03-29T01:30:00.000Z", nextStart: "2026-04-05T00:30:00.000Z" });
        });
    });

    describe("Europe/Berlin, clocks back (Sun 2026-10-25 03:00 CEST → 02:00 CET)", () => {
        it("a start the clocks show twice (02:30) opens at its first occurrence", () => {
            const w = windowOf(["Sun"], "02:30", 30, "Europe/Berlin");
            assert.equal(at(w, "2026-10-24T12:00:00Z").nextStart, "2026-10-25T00:30:00.000Z");
            assert.deepEqual(at(w, "2026-10-25T00:45:00Z"), { openedAt: "2026-10-25T00:30:00.000Z", nextStart: "2026-11-01T01:30:00.000Z" });
            // 02:45 CET, the second time the clocks show it: the window closed at 03:00 CEST
            assert.deepEqual(at(w, "2026-10-25T01:45:00Z"), { nextStart: "2026-11-01T01:30:00.000Z" });
        });

        it("Saturday 22:00 CEST + 6h ends at 03:00 CET", () => {
            const w = windowOf(["Sat"], "22:00", 360, "Europe/Berlin");
            assert.deepEqual(at(w, "2026-10-25T01:30:00Z"), { openedAt: "2026-10-24T20:00:00.000Z", nextStart: "2026-10-31T21:00:00.000Z" });
            assert.deepEqual(at(w, "2026-10-25T02:00:00Z"), { nextStart: "2026-10-31T21:00:00.000Z" });
        });
    });

    describe("America/New_York (2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST)", () => {
        it("the next weekday opening after a weekend follows the change: Monday 09:00 is 14:00 UTC in EST, 13:00 UTC in EDT", () => {
            const w = windowOf(["Mon", "Tue", "Wed", "Thu", "Fri"], "09:00", 480, "America/New_York");
            assert.equal(at(w, "2026-02-28T17:00:00Z").nextStart, "2026-03-02T14:00:00.000Z");
            assert.equal(at(w, "2026-03-07T17:00:00Z").nextStart, "2026-03-09T13:00:00.000Z");
            assert.equal(at(w, "2026-10-31T17:00:00Z").nextStart, "2026-11-02T14:00:00.000Z");
        });

        it("Saturday 23:00 EST + 4h, across midnight and the change, is open at 03:30 EDT and ends at 04:00 EDT", () => {
            const w = windowOf(["Sat"], "23:00", 240, "America/New_York");
            assert.deepEqual(at(w, "2026-03-08T07:30:00Z"), { openedAt: "2026-03-08T04:00:00.000Z", nextStart: "2026-03-15T03:00:00.000Z" });
            assert.deepEqual(at(w, "2026-03-08T08:00:00Z"), { nextStart: "2026-03-15T03:00:00.000Z" });
        });

        it("01:30 on the night the clocks fall back opens at its first occurrence (EDT)", () => {
            const w = windowOf(["Sun"], "01:30", 60, "America/New_York");
            assert.equal(at(w, "2026-10-31T12:00:00Z").nextStart, "2026-11-01T05:30:00.000Z");
        });
    });

    it("windows of days: Friday 18:00 for 3 days is open on Sunday and closes on Monday 18:00; one day for 7 days is always open", () => {
        const weekend = windowOf(["Fri"], "18:00", 3 * 24 * 60, "UTC");
        assert.deepEqual(at(weekend, "2026-12-06T12:00:00Z"), { openedAt: "2026-12-04T18:00:00.000Z", nextStart: "2026-12-11T18:00:00.000Z" });
        assert.deepEqual(at(weekend, "2026-12-07T18:00:00Z"), { nextStart: "2026-12-11T18:00:00.000Z" });
        const always = windowOf(["Mon"], "00:00", 7 * 24 * 60, "Europe/Berlin");
        assert.deepEqual(at(always, "2026-12-06T22:59:00Z"), { openedAt: "2026-11-29T23:00:00.000Z", nextStart: "2026-12-06T23:00:00.000Z" });
        assert.deepEqual(at(always, "2026-12-06T23:00:00Z"), { openedAt: "2026-12-06T23:00:00.000Z", nextStart: "2026-12-13T23:00:00.000Z" });
    });

    it("says a window and an instant in words: local time in the zone, and UTC (with its date when it differs)", () => {
        assert.equal(describeWindow(windowOf(["Sun", "Sat"], "22:00", 360, "Europe/Berlin")), "Sat, Sun 22:00 for 6h (Europe/Berlin)");
        assert.equal(describeWindow(windowOf(["Tue"], "09:05", 90, "UTC")), "Tue 09:05 for 1h30m (UTC)");
        assert.equal(describeWindow(windowOf(["Tue"], "09:05", 45, "UTC")), "Tue 09:05 for 45m (UTC)");
        assert.equal(describeInstant(new Date("2026-03-28T21:00:00Z"), "Europe/Berlin"), "Sat 2026-03-28 22:00 Europe/Berlin (21:00 UTC)");
        assert.equal(describeInstant(new Date("2026-12-05T23:00:00Z"), "Europe/Berlin"), "Sun 2026-12-06 00:00 Europe/Berlin (Sat 2026-12-05 23:00 UTC)");
        assert.equal(describeInstant(new Date("2026-11-30T09:00:00Z"), "UTC"), "Mon 2026-11-30 09:00 UTC");
    });
});
