// Writes a certificateProfile into AKS Engine's apimodel.json: the file is parsed, the profile's
// fields replaced, and the whole serialized again the way the file is written (its indentation,
// whether it escapes <, > and & as Go's HTML-safe encoder does, what follows the closing brace),
// so every other byte stays where it was for a file AKS Engine wrote (2 spaces, no HTML escaping,
// a trailing newline; a re-parse loses only number spellings such as 1.0 and escapes JSON does not
// need, such as Go's \u2028, which its apimodels do not hold). A timestamped backup of the old text
// goes beside it first; the new text goes into a temporary file in the same directory, synced, then
// renamed over the file. Both are 0600: they hold the cluster's private keys. No message quotes the
// file's content.
import * as fs from "fs";
import * as path from "path";

export type CertificateProfileFields = Record<string, string | string[]>;

/** How the file is written, so the new text is written the same way. */
interface JsonStyle {
    indent: string;
    /** <, > and & as \u003c, \u003e, \u0026 (Go's json.Marshal; AKS Engine turns it off). */
    escapeHtml: boolean;
    /** Whatever follows the closing brace (AKS Engine: one newline). */
    trailer: string;
}

function styleOf(text: string): JsonStyle {
    return {
        indent: /^\s*[[{]\r?\n([ \t]+)\S/.exec(text)?.[1] ?? "",
        escapeHtml: /\\u00(3c|3e|26)/i.test(text) && !/[<>&]/.test(text),
        trailer: /\s*$/.exec(text)![0],
    };
}

function serialize(value: unknown, style: JsonStyle): string {
    const text = JSON.stringify(value, null, style.indent);
    // outside strings JSON has no <, > or &, so this escapes inside strings only
    const escaped = style.escapeHtml ? text.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) : text;
    return escaped + style.trailer;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The apimodel text with `profile`'s fields in properties.certificateProfile (present fields keep
 * their place, missing ones are appended), or undefined when it already holds exactly those values.
 * `what` names the file in errors.
 */
export function withCertificateProfile(text: string, profile: CertificateProfileFields, what: string): string | undefined {
    let model: unknown;
    try {
        model = JSON.parse(text);
    } catch {
        // the parser's message quotes the text around the error, which may be a private key
        throw new Error(`${what} is not valid JSON any more; the certificateProfile was not written back`);
    }
    if (!isObject(model) || !isObject(model.properties)) throw new Error(`${what} has no properties object; the certificateProfile was not written back`);
    const current = isObject(model.properties.certificateProfile) ? model.properties.certificateProfile : {};
    if (Object.entries(profile).every(([field, value]) => JSON.stringify(current[field]) === JSON.stringify(value))) return undefined;
    model.properties.certificateProfile = { ...current, ...profile };
    return serialize(model, styleOf(text));
}

/** "20261130T224501123Z": sorts by time, and no two backups of one run share it. */
const stamp = (now: Date): string => now.toISOString().replace(/[-:.]/g, "");

/** Writes `text` to a new file `file` (never over an existing one), mode 0600 whatever the umask, synced. */
function writeNewPrivateFile(file: string, text: string): void {
    const fd = fs.openSync(file, "wx", 0o600);
    try {
        fs.fchmodSync(fd, 0o600);
        fs.writeFileSync(fd, text);
        fs.fsyncSync(fd);
    } finally {
        fs.closeSync(fd);
    }
}

export type WriteBackResult = { written: false } | { written: true; backup: string };

/**
 * Writes `profile` into the apimodel at `file` (a symlink's target is written): nothing when it
 * holds the profile already; else the backup `<file>.<time>.bak`, then the new text atomically.
 */
export function writeCertificateProfile(file: string, profile: CertificateProfileFields, now: Date): WriteBackResult {
    const target = fs.realpathSync(file);
    const old = fs.readFileSync(target, "utf8");
    const text = withCertificateProfile(old, profile, target);
    if (text === undefined) return { written: false };
    const backup = `${target}.${stamp(now)}.bak`;
    writeNewPrivateFile(backup, old);
    const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${stamp(now)}.tmp`);
    try {
        writeNewPrivateFile(temp, text);
        fs.renameSync(temp, target);
    } catch (e) {
        fs.rmSync(temp, { force: true });
        throw e;
    }
    // the rename is durable once the directory is
    const dir = fs.openSync(path.dirname(target), "r");
    try {
        fs.fsyncSync(dir);
    } finally {
        fs.closeSync(dir);
    }
    return { written: true, backup };
}
