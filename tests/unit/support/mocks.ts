// Runs Pulumi programs under pulumi.runtime.setMocks and records every registration with the
// resource options the engine acts on (replacement trigger, ignoreChanges, secret outputs,
// parent). Mock outputs are a deterministic function of a resource's inputs and trigger, so two
// runs with different config can be compared the way the engine would: `simulateReplacements`.
import { execFileSync } from "child_process";
import { createHash, generateKeyPairSync } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { PkiInventory, PkiNode } from "../../../components/pki/instances";

export interface Registration {
    type: string;
    name: string;
    custom: boolean;
    parent: string;
    inputs: Record<string, unknown>;
    trigger: unknown;
    ignoreChanges: string[];
    additionalSecretOutputs: string[];
    /** Top-level inputs passed as secrets. */
    secretInputs: string[];
    /** URNs of the resources it depends on (dependsOn). */
    dependencies: string[];
    /** The explicit provider's reference ("<urn>::<id>"), or "" for the default provider. */
    provider: string;
    /** The names its aliases give it (Pulumi alias specs; name only). */
    aliasNames: string[];
}

let current: Registration[] = [];
const triggers = new Map<string, unknown>();

// Wrap the mock monitor once to see the request, not just what MockResourceArgs carries.
type Req = {
    getType(): string;
    getName(): string;
    getCustom(): boolean;
    getParent(): string;
    getReplacementTrigger(): { toJavaScript(): unknown } | undefined;
    getIgnorechangesList(): string[];
    getAdditionalsecretoutputsList(): string[];
    getDependenciesList(): string[];
    getProvider(): string;
    getAliasesList(): { getSpec(): { getName(): string } | undefined }[];
};
const proto = MockMonitor.prototype as unknown as { registerResource(req: Req, cb: unknown): Promise<void>; __azsWrapped?: boolean };
if (!proto.__azsWrapped) {
    const original = proto.registerResource;
    proto.registerResource = function (this: unknown, req: Req, cb: unknown) {
        const trigger = req.getReplacementTrigger()?.toJavaScript();
        triggers.set(`${req.getType()}::${req.getName()}`, trigger ?? null);
        current.push({
            type: req.getType(),
            name: req.getName(),
            custom: req.getCustom(),
            parent: req.getParent(),
            inputs: {},
            trigger: trigger ?? null,
            ignoreChanges: req.getIgnorechangesList(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            secretInputs: [],
            dependencies: req.getDependenciesList(),
            provider: req.getProvider(),
            aliasNames: req.getAliasesList().map((a) => a.getSpec()?.getName() ?? ""),
        });
        return original.call(this, req, cb);
    };
    proto.__azsWrapped = true;
}

export const stable = (v: unknown): string =>
    JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
const hash = (...parts: unknown[]): string => createHash("sha256").update(stable(parts)).digest("hex").slice(0, 16);

/** One real public key for every mocked tls.PrivateKey (reports parse it). */
const PUBLIC_KEY_PEM = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();

/**
 * One real certificate for every mocked certificate, followed by a line naming the resource and its
 * hash: reports parse the PEM block, tests and the replacement simulation see the suffix.
 */
export const CERT_PEM = execFileSync(
    "openssl",
    ["req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", "/dev/null", "-days", "365", "-subj", "/CN=mock"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
);

/** Inputs the tls provider updates in place instead of replacing: they keep the id and outputs. */
const IN_PLACE_INPUTS = new Set(["earlyRenewalHours"]);

function mockOutputs(type: string, name: string, inputs: Record<string, unknown>, trigger: unknown): { id: string; state: Record<string, unknown> } {
    const h = hash(type, name, Object.entries(inputs).filter(([k]) => !IN_PLACE_INPUTS.has(k)), trigger);
    switch (type) {
        case "tls:index/privateKey:PrivateKey":
            return {
                id: `${name}-${h}`,
                state: {
                    ...inputs,
                    privateKeyPem: fakeKeyPem(`mock ${name} ${h}`),
                    publicKeyPem: `${PUBLIC_KEY_PEM}mock ${name} ${h}\n`,
                    publicKeyFingerprintSha256: h,
                },
            };
        case "tls:index/certRequest:CertRequest":
            return { id: `${name}-${h}`, state: { ...inputs, certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nmock ${name} ${h}\n-----END CERTIFICATE REQUEST-----\n` } };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { id: `${name}-${h}`, state: { ...inputs, certPem: `${CERT_PEM}mock ${name} ${h}\n`, readyForRenewal: false } };
        default:
            return { id: `${name}-${h}`, state: inputs };
    }
}

export interface MockOptions {
    preview?: boolean;
    /** The Pulumi organization (pulumi.getOrganization() throws without one). */
    organization?: string;
    /** A resource's state instead of the default mock outputs (return undefined to keep them); also sees read resources (StackReference). */
    stateOf?: (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> | undefined;
}

/** Runs `program` under fresh mocks and returns what it registered (custom resources with their inputs). */
export async function runMocked<T>(program: () => T, settle: (result: T) => Promise<unknown>, opts: MockOptions = {}): Promise<{ result: T; registrations: Registration[] }> {
    current = [];
    const registrations = current;
    const inputsByName = new Map<string, Record<string, unknown>>();
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                inputsByName.set(`${args.type}::${args.name}`, args.inputs);
                const mocked = mockOutputs(args.type, args.name, args.inputs, triggers.get(`${args.type}::${args.name}`) ?? null);
                return { id: mocked.id, state: opts.stateOf?.(args) ?? mocked.state };
            },
            call: (args: pulumi.runtime.MockCallArgs) => args.inputs,
        },
        "azs-cert-rotation",
        "unit",
        opts.preview ?? false,
        opts.organization,
    );
    // The SDK records a stack trace for every promise it creates; under ts-node's source maps that
    // is most of a mocked run's time. No traces keep a run of ClusterPki well under a second.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let result: T;
    try {
        result = program();
        await settle(result);
    } finally {
        Error.stackTraceLimit = limit;
    }
    for (const r of registrations) {
        const raw = inputsByName.get(`${r.type}::${r.name}`) ?? {};
        r.secretInputs = Object.entries(raw).filter(([, v]) => isSecret(v)).map(([k]) => k);
        r.inputs = unwrapSecrets(raw) as Record<string, unknown>;
    }
    return { result, registrations };
}

const SIG_KEY = "4dabf18193072939515e22adb298388d"; // pulumi's special signature key
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

const isSecret = (v: unknown): boolean => !!v && typeof v === "object" && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;

/** Mock inputs keep secrets as {sig, value} objects; tests compare the values. */
function unwrapSecrets(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SIG_KEY] === SECRET_SIG) return unwrapSecrets(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

/** Resolves an Output's value (rejects with its error). */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return (output as unknown as { promise(): Promise<T> }).promise();
}

/**
 * The engine's decision for each resource present in both runs: replaced when its replacement
 * trigger changed (a null trigger on either side never triggers, as the engine) or when an input
 * that forces replacement changed, ignoring `ignoreChanges`. Every tls input but earlyRenewalHours
 * forces replacement. A replaced resource gets new outputs, so its dependents' inputs change.
 */
export function simulateReplacements(before: Registration[], after: Registration[]): string[] {
    const old = new Map(before.filter((r) => r.custom).map((r) => [`${r.type}::${r.name}`, r]));
    const replaced: string[] = [];
    for (const r of after.filter((x) => x.custom)) {
        const prev = old.get(`${r.type}::${r.name}`);
        if (!prev) continue;
        const triggerChanged = prev.trigger !== null && r.trigger !== null && stable(prev.trigger) !== stable(r.trigger);
        const ignored = new Set([...r.ignoreChanges, ...IN_PLACE_INPUTS]);
        const keys = new Set([...Object.keys(prev.inputs), ...Object.keys(r.inputs)].filter((k) => !ignored.has(k)));
        const inputChanged = [...keys].some((k) => stable(prev.inputs[k]) !== stable(r.inputs[k]));
        if (triggerChanged || inputChanged) replaced.push(r.name);
    }
    return replaced.sort();
}

/** 3 masters + 3 agents, as the testbed (firstConsecutiveStaticIP 10.240.255.5, LB = first + 10). */
export function inventory3x3(): PkiInventory {
    const nodes: PkiNode[] = [
        ...[0, 1, 2].map((i): PkiNode => ({ name: `k8s-master-31415926-${i}`, role: "master", ip: `10.240.255.${5 + i}`, index: i })),
        ...[0, 1, 2].map((i): PkiNode => ({ name: `k8s-agentpool1-31415926-${i}`, role: "agent", ip: `10.240.255.${40 + i}` })),
    ];
    return { nodes, fqdn: "azstb.local.cloudapp.azurestack.external", loadBalancerIps: ["10.240.255.15"] };
}

/** A PEM-armoured fake key (no key material). Built at run time so no source file carries a private-key marker. */
export function fakeKeyPem(body: string): string {
    const label = ["PRIVATE", "KEY"].join(" ");
    return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** The fake OpenSSH private key the unit tests set as the stack's sshPrivateKey (no key material). */
export const FAKE_SSH_KEY = fakeKeyPem("c3NoLWtleQ==").replace(/PRIVATE KEY/g, "OPENSSH PRIVATE KEY");
