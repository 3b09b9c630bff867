// The remote scripts run on the bash of the oldest node image AKS Engine deployed on Azure Stack
// Hub (Ubuntu 16.04: bash 4.3) and pass shellcheck as the node reads them (lib.sh and gates.sh
// before the step's script).
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PLATFORM_SPECS } from "../../../../components/nodeModel";

const SCRIPTS = path.resolve(__dirname, "../../../../components/rollout/scripts");
const read = (f: string) => fs.readFileSync(path.join(SCRIPTS, f), "utf8");
const code = (text: string) => text.split("\n").map((l) => l.replace(/(^|\s)#.*$/, "")).join("\n");

/** Features bash 4.3 lacks, with the version that brought each. */
const NEWER_THAN_4_3: [RegExp, string][] = [
    [/\bEPOCH(REAL)?TIME\b|\bEPOCHSECONDS\b/, "$EPOCHREALTIME / $EPOCHSECONDS (bash 5.0)"],
    [/\bBASH_ARGV0\b|\bSRANDOM\b/, "BASH_ARGV0 / SRANDOM (bash 5.0/5.1)"],
    [/\$\{[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?@[QEPAaUuLKk]\}/, "${var@op} transformations (bash 4.4)"],
    [/\blocal -(\s|$)/, "local - (bash 4.4)"],
    [/\b(mapfile|readarray)\b[^\n]*\s-d\b/, "mapfile -d (bash 4.4)"],
    [/\bwait\b[^\n]*\s-p\b/, "wait -p (bash 5.1)"],
];

/**
 * Expansions of arrays a script starts empty (`NAME=()`, `local NAME=()`) without a guard: bash
 * before 4.4 treats "${NAME[@]}" of an empty array as unbound under set -u and stops the script.
 */
function unguardedExpansions(text: string): string[] {
    const starts = new Set([...text.matchAll(/(?:^|[\s;(])([A-Za-z_][A-Za-z0-9_]*)=\(\)/gm)].map((m) => m[1]!));
    return [...starts].flatMap((name) => {
        const guarded = new RegExp(`\\$\\{${name}\\[@\\]\\+"\\$\\{${name}\\[@\\]\\}"\\}`, "g");
        return text.replace(guarded, "").match(new RegExp(`\\$\\{${name}\\[[@*]\\](?![+:])`, "g")) ?? [];
    });
}

describe("remote scripts: bash 4.3 and shellcheck", () => {
    const files = fs.readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh"));

    it("use no feature newer than bash 4.3", () => {
        for (const f of files) {
            for (const [pattern, what] of NEWER_THAN_4_3) assert.doesNotMatch(code(read(f)), pattern, `${f}: ${what}`);
        }
    });

    it("expand every array that can be empty with a guard (${a[@]+\"${a[@]}\"} or ${a[*]:-…})", () => {
        for (const f of files) assert.deepEqual(unguardedExpansions(code(read(f))), [], `${f}: arrays that start empty, expanded without a guard`);
    });

    it("the checks see what they look for: a bare expansion and a bash 5 variable are found; the guard expands to no word", () => {
        assert.deepEqual(unguardedExpansions('local a=() b=(1)\nf "${a[@]}" "${b[@]}" ${a[*]}'), ["${a[@]", "${a[*]"]);
        assert.deepEqual(unguardedExpansions('a=()\nf ${a[@]+"${a[@]}"} "${a[*]:-none}"'), []);
        assert.ok(NEWER_THAN_4_3.some(([p]) => p.test("t=${EPOCHREALTIME/./}")));
        const run = spawnSync("bash", ["-c", 'set -u; a=(); f() { echo "$#"; }; f ${a[@]+"${a[@]}"}'], { encoding: "utf8" });
        assert.equal(run.stdout.trim(), "0");
    });

    it("the preflight refuses a bash older than 4.3 by name", () => {
        assert.match(code(read("preflight.sh")), /bash_supported || die/);
        const check = (version: string) => spawnSync("bash", ["-c", `${code(read("lib.sh"))}\nif why=$(bash_supported ${version}); then echo ok; else echo "refused: $why"; fi`], { encoding: "utf8" }).stdout.trim();
        assert.equal(check("4 2 53"), "refused: bash 4.2.53: the remote steps need bash 4.3 or later");
        assert.equal(check("3 2 57"), "refused: bash 3.2.57: the remote steps need bash 4.3 or later");
        assert.equal(check("4 3 48"), "ok");
        assert.equal(check("5 2 21"), "ok");
        assert.equal(check('"${BASH_VERSINFO[@]:0:3}"'), "ok", "this machine's bash");
    });

    it("pass shellcheck as the node reads them (warnings and errors)", function () {
        this.timeout(60_000);
        for (const step of ["lock", "preflight", "rotate", "clusterCheck"] as const) {
            const text = PLATFORM_SPECS.linux.scripts[step].map(read).join("\n");
            const r = spawnSync("shellcheck", ["--shell=bash", "--severity=warning", "-"], { input: text, encoding: "utf8" });
            assert.ok(r.error === undefined, `shellcheck is not installed (testbed/install-deps.sh installs it): ${r.error?.message}`);
            assert.equal(r.status, 0, `${step}: ${r.stdout}`);
        }
        assert.match(execFileSync("shellcheck", ["--version"], { encoding: "utf8" }), /version: \d/);
    });

    it("the expiry report's remote script (report/scripts/read-certs.sh) too: no feature newer than 4.3, guarded arrays, shellcheck", () => {
        const text = fs.readFileSync(path.resolve(__dirname, "../../../../report/scripts/read-certs.sh"), "utf8");
        for (const [pattern, what] of NEWER_THAN_4_3) assert.doesNotMatch(code(text), pattern, `read-certs.sh: ${what}`);
        assert.deepEqual(unguardedExpansions(code(text)), [], "read-certs.sh: arrays that start empty, expanded without a guard");
        const r = spawnSync("shellcheck", ["--shell=bash", "--severity=warning", "-"], { input: text, encoding: "utf8" });
        assert.ok(r.error === undefined, `shellcheck is not installed (testbed/install-deps.sh installs it): ${r.error?.message}`);
        assert.equal(r.status, 0, `read-certs.sh: ${r.stdout}`);
    });
});
