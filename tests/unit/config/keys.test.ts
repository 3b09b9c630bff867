// The config keys are documented three times: the rows in code (CONFIG_KEYS), the configuration
// table in README.md and the `config:` block of Pulumi.yaml. Each is held here against the keys the
// parsers accept (ACCEPTED_KEYS: the lists their rejectUnknown calls check), down to nested keys.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ACCEPTED_KEYS, CONFIG_KEYS } from "../../../components/config/keys";

const ROOT = path.join(__dirname, "../../..");

interface DocRow {
    /** As written: "pki.validity.leafDays", "pki.rotation.<type>", "a / b" (b a sibling of a). */
    key: string;
    description: string;
}

/** The fields of the object at a dotted path, as the parsers accept them (empty for a key that holds no object). */
function fieldsOf(key: string): string[] {
    return ACCEPTED_KEYS.filter((k) => k.startsWith(`${key}.`) && !k.slice(key.length + 1).includes(".")).map((k) => k.slice(key.length + 1));
}

/** The field names of the first "{name, role: master|agent, index (masters), …}" in a description; undefined when it has none. */
function fieldList(description: string): string[] | undefined {
    const list = /\{([^{}]*)\}/.exec(description)?.[1];
    if (list === undefined) return undefined;
    return list.split(",").map((part) => /^\s*([A-Za-z]\w*)/.exec(part)?.[1] ?? `(unreadable field ${JSON.stringify(part.trim())})`);
}

/**
 * The dotted keys the rows document: each row's key, its siblings after " / ", each name a
 * <placeholder> stands for (the plain `names` its description quotes), every parent of those, and
 * for a key that holds an object the fields its description lists in {…}.
 */
function documentedKeys(rows: DocRow[]): Set<string> {
    const keys = new Set<string>();
    for (const row of rows) {
        const [first, ...siblings] = row.key.split(/\s*\/\s*/);
        const parent = first!.includes(".") ? first!.slice(0, first!.lastIndexOf(".") + 1) : "";
        const quoted = [...row.description.matchAll(/`([A-Za-z]\w*)`/g)].map((m) => m[1]!);
        const written = [first!, ...siblings.map((s) => parent + s)].flatMap((k) => (/<\w+>/.test(k) ? quoted.map((q) => k.replace(/<\w+>/, q)) : [k]));
        for (const key of written) {
            key.split(".").forEach((_, i, parts) => keys.add(parts.slice(0, i + 1).join(".")));
            if (fieldsOf(key).length > 0) for (const field of fieldList(row.description) ?? []) keys.add(`${key}.${field}`);
        }
    }
    return keys;
}

/** One line per difference between what a source documents and what the parsers accept. */
function drift(source: string, documented: Set<string>, accepted: string[]): string[] {
    return [
        ...accepted.filter((k) => !documented.has(k)).map((k) => `${source}: ${k} is accepted by the parsers but not documented`),
        ...[...documented].filter((k) => !accepted.includes(k)).map((k) => `${source}: documents ${k}, which the parsers do not accept`),
    ];
}

/** The rows of the table under "## Configuration" in README.md: key (backticks dropped) and meaning. */
function readmeRows(): DocRow[] {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.split(/^## /m).find((s) => s.startsWith("Configuration\n"));
    assert.ok(section, 'README.md has a "## Configuration" section');
    return section
        .split("\n")
        .filter((line) => line.startsWith("| `"))
        .map((line) => {
            const cells = line.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
            return { key: cells[1]!.replace(/`/g, ""), description: cells[4] ?? "" };
        });
}

/** The `config:` block of Pulumi.yaml: its top-level keys and their descriptions. */
function pulumiYamlRows(): DocRow[] {
    // js-yaml comes with @pulumi/pulumi (pinned in package-lock.json)
    const yaml = require("js-yaml") as { load(text: string): unknown };
    const project = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { description?: string }> };
    return Object.entries(project.config).map(([key, decl]) => ({ key, description: decl.description ?? "" }));
}

describe("config: the key documentation (code, README.md, Pulumi.yaml) against the keys the parsers accept", () => {
    it("reads nested keys from the parsers' lists", () => {
        for (const k of ["nodes", "nodes.hostKey", "jumpbox.port", "pki.validity.caDays", "pki.rotation.serviceAccount", "pki.caGenerations.frontProxyCa", "rollout.loadBalancerProbeSources", "sshPrivateKey"]) {
            assert.ok(ACCEPTED_KEYS.includes(k), k);
        }
    });

    it("reads lists of fields and placeholders the way the docs write them", () => {
        assert.deepEqual(fieldList("every VM: {name, role: master|agent, index (masters: etcdpeer<index>), hostKey}; more"), ["name", "role", "index", "hostKey"]);
        const keys = documentedKeys([
            { key: "pki.validity.leafDays / leafRenewalDays", description: "" },
            { key: "pki.rotation.<type>", description: "`kubernetesLeaf`, `etcdLeaf`; `caGenerations.x` is not a name" },
            { key: "jumpbox", description: "{host, port: 22}" },
        ]);
        assert.deepEqual([...keys].sort(), ["jumpbox", "jumpbox.host", "jumpbox.port", "pki", "pki.rotation", "pki.rotation.etcdLeaf", "pki.rotation.kubernetesLeaf", "pki.validity", "pki.validity.leafDays", "pki.validity.leafRenewalDays"]);
        assert.deepEqual(drift("X", new Set(["a", "b"]), ["a", "c"]), ["X: c is accepted by the parsers but not documented", "X: documents b, which the parsers do not accept"]);
    });

    it("the rows in code (CONFIG_KEYS) document every accepted key and nothing else, once each", () => {
        const keys = CONFIG_KEYS.map((r) => r.key);
        assert.deepEqual(
            keys.filter((k, i) => keys.indexOf(k) !== i),
            [],
            "keys with two rows",
        );
        const problems = drift("CONFIG_KEYS", documentedKeys(CONFIG_KEYS), ACCEPTED_KEYS);
        assert.deepEqual(problems, [], problems.join("\n"));
    });

    it("README.md's configuration table documents every accepted key and nothing else", () => {
        const rows = readmeRows();
        assert.ok(rows.length >= 20, `README.md: ${rows.length} rows read from the configuration table`);
        const problems = drift("README.md", documentedKeys(rows), ACCEPTED_KEYS);
        assert.deepEqual(problems, [], problems.join("\n"));
    });

    it("Pulumi.yaml declares every accepted top-level key and nothing else; a {…} list in a description names every field", () => {
        const rows = pulumiYamlRows();
        const topLevel = ACCEPTED_KEYS.filter((k) => !k.includes("."));
        const problems = drift("Pulumi.yaml", new Set(rows.map((r) => r.key)), topLevel);
        for (const row of rows) {
            const listed = fieldList(row.description);
            if (listed === undefined || fieldsOf(row.key).length === 0) continue;
            const fields = fieldsOf(row.key).map((f) => `${row.key}.${f}`);
            problems.push(...drift(`Pulumi.yaml (${row.key}'s description)`, new Set([row.key, ...listed.map((f) => `${row.key}.${f}`)]), [row.key, ...fields]));
        }
        assert.deepEqual(problems, [], problems.join("\n"));
    });
});
