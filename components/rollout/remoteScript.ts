// What a remote step sends to its node: the step's shell scripts (files in scripts/),
// then its input — parameters and files — in the line format scripts/lib.sh `read_input` reads.
// File contents travel only here, on stdin: never in a command line, never in a log.
import * as fs from "fs";
import * as path from "path";
import { Platform, PLATFORM_SPECS, PlatformSpec } from "../nodeModel";

const SCRIPTS_DIR = path.join(__dirname, "scripts");

export type StepScript = keyof PlatformSpec["scripts"];

const scriptTexts = new Map<string, string>();

/** The scripts of a step, in the order the shell must read them (its main call comes last); read once per program run. */
export function scriptText(platform: Platform, step: StepScript): string {
    const key = `${platform}/${step}`;
    let text = scriptTexts.get(key);
    if (text === undefined) {
        text = PLATFORM_SPECS[platform].scripts[step].map((f) => fs.readFileSync(path.join(SCRIPTS_DIR, f), "utf8")).join("\n");
        scriptTexts.set(key, text);
    }
    return text;
}

/** The command line: only the step's name and arguments, which must be plain words. */
export function commandLine(platform: Platform, args: string[]): string {
    for (const a of args) {
        if (!/^[A-Za-z0-9._\/:=-]+$/.test(a)) throw new Error(`remote step argument ${JSON.stringify(a)} is not a plain word`);
    }
    return PLATFORM_SPECS[platform].commandLine(args);
}

export interface InputFile {
    path: string;
    /** Octal mode, e.g. "0600". */
    mode: string;
    /** Services to restart when the file's content changes. */
    restarts: string[];
    content: string;
}

/** The input lines after the script: `param` lines, `file` blocks (base64), `done`. */
export function stepInput(params: Record<string, string>, files: InputFile[]): string {
    const lines: string[] = [];
    for (const [name, value] of Object.entries(params)) {
        if (!/^[a-z_]+$/.test(name) || /[\r\n]/.test(value)) throw new Error(`bad remote step parameter ${name}`);
        lines.push(`param ${name} ${value}`);
    }
    for (const f of files) {
        if (!/^0[0-7]{3}$/.test(f.mode) || !f.path.startsWith("/") || /\s/.test(f.path)) throw new Error(`bad remote file ${f.path} ${f.mode}`);
        lines.push(`file ${f.mode} ${f.path} ${f.restarts.length > 0 ? f.restarts.join(",") : "-"}`);
        lines.push(...(Buffer.from(f.content, "utf8").toString("base64").match(/.{1,76}/g) ?? []));
        lines.push("end");
    }
    lines.push("done");
    return lines.join("\n") + "\n";
}
