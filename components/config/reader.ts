// The checked config reader every section is parsed with: a Section collects the problems of one
// config object under their full key path, the value checks name what a value must be, and
// readSecret/secretProblem are the one way a private key is read and refused when it was not set
// with --secret.
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { firstServiceIp } from "../pki/instances";

// Not in the SDK's typings, but exported by it: whether a config key was set with --secret.
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

export const CONFIG_NAMESPACE = "azs-cert-rotation";

/** Every problem found in the stack config, one per line, each naming its key. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

/** Reads fields of one config object, collecting problems under their full key path. */
export class Section {
    private readonly obj: Record<string, unknown>;

    constructor(
        readonly path: string,
        raw: unknown,
        private readonly problems: string[],
    ) {
        if (raw === undefined || raw === null) {
            this.obj = {};
        } else if (typeof raw === "object" && !Array.isArray(raw)) {
            this.obj = raw as Record<string, unknown>;
        } else {
            problems.push(`${path}: must be an object, got ${describe(raw)}`);
            this.obj = {};
        }
    }

    private key(name: string): string {
        return this.path ? `${this.path}.${name}` : name;
    }

    has(name: string): boolean {
        return this.obj[name] !== undefined;
    }

    keys(): string[] {
        return Object.keys(this.obj);
    }

    bool(name: string, def: boolean): boolean {
        const v = this.obj[name];
        if (v === undefined) return def;
        if (v === true || v === "true") return true;
        if (v === false || v === "false") return false;
        this.problems.push(`${this.key(name)}: must be true or false, got ${describe(v)}`);
        return def;
    }

    /** A required list of objects, one Section per item (path name[i]). */
    objectList(name: string): Section[] {
        const v = this.obj[name];
        if (!Array.isArray(v) || v.length === 0) {
            this.problems.push(`${this.key(name)}: must be a non-empty list, got ${describe(v)}`);
            return [];
        }
        return v.map((item, i) => new Section(`${this.key(name)}[${i}]`, item, this.problems));
    }

    section(name: string): Section {
        return new Section(this.key(name), this.obj[name], this.problems);
    }

    /** A problem found by a check of the caller's, under this object's key `name`. */
    report(name: string, problem: string): void {
        this.problems.push(`${this.key(name)}: ${problem}`);
    }

    int(name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
        const v = this.obj[name];
        if (v === undefined) return def;
        const n = typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
        if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
            this.problems.push(`${this.key(name)}: must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ""}, got ${describe(v)}`);
            return def;
        }
        return n;
    }

    oneOf<T extends string | number>(name: string, allowed: readonly T[], def: T): T {
        const v = this.obj[name];
        if (v === undefined) return def;
        const match = allowed.find((a) => a === v || String(a) === String(v));
        if (match === undefined) {
            this.problems.push(`${this.key(name)}: must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${describe(v)}`);
            return def;
        }
        return match;
    }

    /** A string field; with def undefined the field is required. */
    string(name: string, def: string | undefined, check: (s: string) => string | undefined): string {
        const v = this.obj[name];
        if (v === undefined) {
            if (def === undefined) this.problems.push(`${this.key(name)}: required`);
            return def ?? "";
        }
        const why = typeof v === "string" ? check(v) : "must be a string";
        if (why) {
            this.problems.push(`${this.key(name)}: ${why}, got ${describe(v)}`);
            return def ?? "";
        }
        return v as string;
    }

    /** A required field of a type of the caller's: `parse` gives its value or why it is refused. */
    parsed<T>(name: string, parse: (v: unknown) => { value: T } | { refused: string }): T | undefined {
        const v = this.obj[name];
        if (v === undefined) {
            this.problems.push(`${this.key(name)}: required`);
            return undefined;
        }
        const result = parse(v);
        if ("refused" in result) {
            this.problems.push(`${this.key(name)}: ${result.refused}, got ${describe(v)}`);
            return undefined;
        }
        return result.value;
    }

    stringList(name: string, check: (s: string) => string | undefined): string[] {
        const v = this.obj[name];
        if (v === undefined) return [];
        if (!Array.isArray(v)) {
            this.problems.push(`${this.key(name)}: must be a list, got ${describe(v)}`);
            return [];
        }
        return v.filter((item, i) => {
            const why = typeof item === "string" ? check(item) : "must be a string";
            if (why) this.problems.push(`${this.key(name)}[${i}]: ${why}, got ${describe(item)}`);
            return !why;
        });
    }

    /** Unknown keys are errors: a typo must not silently fall back to a default. */
    rejectUnknown(known: readonly string[]): void {
        for (const k of Object.keys(this.obj)) {
            if (!known.includes(k)) {
                const near = known.find((n) => n.toLowerCase() === k.toLowerCase() || editDistance(n, k) <= 2);
                this.problems.push(`${this.key(k)}: unknown key${near ? ` (did you mean ${this.key(near)}?)` : ""}; known: ${known.join(", ")}`);
            }
        }
    }
}

function describe(v: unknown): string {
    const text = JSON.stringify(v);
    return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
    }
    return d[a.length]![b.length]!;
}

// ---------------------------------------------------------------- value checks: a reason, or undefined when fine

const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
export const checkDnsName = (s: string): string | undefined => (DNS_NAME.test(s) && s.length <= 253 ? undefined : "must be a DNS name");
/** An IP address or a DNS name: an apiserver SAN, a jumpbox host. */
export const checkHost = (s: string): string | undefined => (net.isIP(s) || !checkDnsName(s) ? undefined : "must be an IP address or a DNS name");
export const checkIp = (s: string): string | undefined => (net.isIP(s) ? undefined : "must be an IP address");
/** An IPv4 address; an IPv6 one gets `ipv6Refusal` (why the key cannot take one), anything else checkIp's reason. */
export const checkIpv4 =
    (ipv6Refusal: string) =>
    (s: string): string | undefined =>
        net.isIPv4(s) ? undefined : net.isIPv6(s) ? ipv6Refusal : checkIp(s);
export const checkCidr = (s: string): string | undefined => {
    try {
        firstServiceIp(s);
        return undefined;
    } catch {
        return "must be an IPv4 or IPv6 CIDR such as 10.0.0.0/16";
    }
};

// ---------------------------------------------------------------- private keys: set with --secret

/** A private key as read from stack config: its text (plain; undefined when unset) and whether it was set with --secret. */
export interface SecretInput {
    value?: string;
    secret: boolean;
}

/**
 * Reads a private key from stack config. Pulumi.yaml declares these keys with default "" (a
 * declared key needs a value): "" is unset. config.get returns a secret in plain text: the section
 * parser wraps it with pulumi.secret and never quotes it; secretProblem refuses one set without --secret.
 */
export function readSecret(config: pulumi.Config, key: string): SecretInput {
    const value = config.get(key) || undefined;
    return { value, secret: value !== undefined && isConfigSecret(`${CONFIG_NAMESPACE}:${key}`) };
}

/** The problem with a private key set without --secret (file: what the fix pipes in), or undefined. */
export function secretProblem(key: string, input: SecretInput, file: string): string | undefined {
    if (input.value === undefined || input.secret) return undefined;
    return `${CONFIG_NAMESPACE}:${key}: a private key must be stored as a secret: pulumi config set --secret ${key} < ${file}`;
}
