// Writing a certificateProfile into apimodel.json (components/apimodel/writeBack.ts): only the
// profile's fields change, the file keeps its format byte for byte, the old file is backed up
// (0600), the new one replaces it atomically (0600). Every key and certificate is made at test time.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { CertificateProfileFields, withCertificateProfile, writeCertificateProfile } from "../../../components/apimodel/writeBack";
import { apimodel } from "../support/apimodel";
import { RUNS_AS_ROOT, setWritable } from "../support/files";
import { OpenSsl, Pem } from "../support/openssl";

const PEER_FIELDS = ["etcdPeerCertificates", "etcdPeerPrivateKeys"];
/** The fields of AKS Engine's certificateProfile this program writes, one Pem each (certificate, key). */
const LEAVES = { apiServer: "apiserver", client: "client", kubeConfig: "kubectl", etcdServer: "etcd-server", etcdClient: "etcd-client" };

/** A full certificateProfile for 3 masters: a CA of its own and leaves it signed. */
function profileOf(ssl: OpenSsl, tag: string): CertificateProfileFields {
    const ca = ssl.ca({ cn: `${tag}-ca` });
    const leaf = (cn: string): Pem => ssl.leaf(ca, { subj: `/CN=${tag}-${cn}`, days: 365, ext: ["basicConstraints=critical,CA:FALSE"] });
    const fields: CertificateProfileFields = { caCertificate: ca.cert, caPrivateKey: ca.key };
    for (const [field, cn] of Object.entries(LEAVES)) {
        const pem = leaf(cn);
        fields[`${field}Certificate`] = pem.cert;
        fields[`${field}PrivateKey`] = pem.key;
    }
    const peers = [0, 1, 2].map((i) => leaf(`etcd-peer-${i}`));
    return { ...fields, etcdPeerCertificates: peers.map((p) => p.cert), etcdPeerPrivateKeys: peers.map((p) => p.key) };
}

/**
 * The lines of `after` that differ from `before`, which must have as many: each names its field
 * (the JSON key on the line, or the array it is an item of) and keeps the text before the value.
 */
function changedLines(before: string, after: string): string[] {
    const old = before.split("\n");
    const now = after.split("\n");
    assert.equal(now.length, old.length, "as many lines as before");
    const fields: string[] = [];
    let array = "";
    old.forEach((line, i) => {
        const key = /^\s*"(\w+)": /.exec(line)?.[1];
        if (key !== undefined) array = line.trimEnd().endsWith("[") ? key : "";
        if (now[i] === line) return;
        const prefix = /^\s*("\w+": )?/.exec(line)![0];
        assert.ok(now[i]!.startsWith(prefix), `line ${i + 1} keeps ${JSON.stringify(prefix)}`);
        fields.push(key ?? `${array}[]`);
    });
    return fields;
}

const sortedPaths = (value: unknown, prefix = ""): string[] =>
    value && typeof value === "object" && !Array.isArray(value) ? Object.entries(value).flatMap(([k, v]) => sortedPaths(v, `${prefix}${k}.`)) : [prefix];

describe("apimodel write-back: the certificateProfile into apimodel.json", () => {
    const ssl = new OpenSsl();
    let oldProfile: CertificateProfileFields;
    let newProfile: CertificateProfileFields;
    let model: Record<string, unknown>;
    /** What every field but the profile's is, for comparisons after a re-parse. */
    const withoutProfile = (m: unknown): unknown => {
        const copy = JSON.parse(JSON.stringify(m));
        delete copy.properties.certificateProfile;
        return copy;
    };
    before(() => {
        oldProfile = profileOf(ssl, "old");
        newProfile = profileOf(ssl, "new");
        model = apimodel({ masters: 3 }, oldProfile);
    });
    after(() => ssl.remove());

    it("AKS Engine's format (2 spaces, raw & < >, a trailing newline): the whole text identical but the profile's values, every other field identical after a re-parse", () => {
        const before = `${JSON.stringify(model, null, 2)}\n`;
        const after = withCertificateProfile(before, newProfile, "apimodel.json")!;
        const changed = changedLines(before, after);
        assert.deepEqual(
            changed.sort(),
            [...Object.keys(newProfile).filter((f) => !PEER_FIELDS.includes(f)), ...PEER_FIELDS.flatMap((f) => [`${f}[]`, `${f}[]`, `${f}[]`])].sort(),
            "one line per changed value, every field of the profile",
        );
        const parsed = JSON.parse(after);
        assert.deepEqual(parsed.properties.certificateProfile, newProfile);
        assert.deepEqual(withoutProfile(parsed), withoutProfile(model));
        assert.deepEqual(Object.keys(parsed.properties.certificateProfile), Object.keys(oldProfile), "the profile's fields keep their order");
        assert.deepEqual(sortedPaths(parsed), sortedPaths(model), "every key in its place");
    });

    it("another format is kept: 4 spaces and Go's HTML escaping (\\u0026), no trailing newline; tabs; one line", () => {
        const escaped = JSON.stringify(model, null, 4).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
        assert.match(escaped, /\\u0026view=\\u003call\\u003e/);
        const after = withCertificateProfile(escaped, newProfile, "apimodel.json")!;
        assert.equal(changedLines(escaped, after).length, 18);
        assert.match(after, /\\u0026view=\\u003call\\u003e/, "escaped as before");
        assert.ok(!after.endsWith("\n"));
        for (const [format, text] of [
            ["tabs", `${JSON.stringify(model, null, "\t")}\n`],
            ["one line", JSON.stringify(model)],
        ] as const) {
            const written = withCertificateProfile(text, newProfile, "apimodel.json")!;
            if (format === "tabs") assert.equal(changedLines(text, written).length, 18, format);
            else assert.equal(written.split("\n").length, 1, format);
            assert.deepEqual(withoutProfile(JSON.parse(written)), withoutProfile(model), format);
        }
    });

    it("fields the file's profile lacks are appended after its own; a file without a profile gets one; a file holding the profile already is left alone", () => {
        const partial = apimodel({ masters: 3 }, { caCertificate: "old", apiServerPrivateKey: "old" });
        const profile = JSON.parse(withCertificateProfile(JSON.stringify(partial, null, 2), newProfile, "f")!).properties.certificateProfile;
        assert.deepEqual(Object.keys(profile), ["caCertificate", "apiServerPrivateKey", ...Object.keys(newProfile).filter((f) => f !== "caCertificate" && f !== "apiServerPrivateKey")]);
        const bare = JSON.parse(JSON.stringify(partial));
        delete bare.properties.certificateProfile;
        assert.deepEqual(JSON.parse(withCertificateProfile(JSON.stringify(bare, null, 2), newProfile, "f")!).properties.certificateProfile, newProfile);
        assert.equal(withCertificateProfile(JSON.stringify(apimodel({ masters: 3 }, newProfile), null, 2), newProfile, "f"), undefined);
    });

    it("a file that is no apimodel any more is refused, and the error quotes none of its text", () => {
        const broken = `${JSON.stringify(model, null, 2).slice(0, 2000)}\n`;
        assert.throws(() => withCertificateProfile(broken, newProfile, "/srv/apimodel.json"), (e: Error) => {
            assert.equal(e.message, "/srv/apimodel.json is not valid JSON any more; the certificateProfile was not written back");
            return true;
        });
        assert.throws(() => withCertificateProfile("[]", newProfile, "f"), /^Error: f has no properties object/);
    });

    describe("the file", () => {
        let dir: string;
        let file: string;
        const old = (): string => `${JSON.stringify(model, null, 2)}\n`;
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(ssl.dir, "_output-"));
            file = path.join(dir, "apimodel.json");
            fs.writeFileSync(file, old(), { mode: 0o644 });
        });
        const mode = (f: string): number => fs.statSync(f).mode & 0o777;

        it("backs up the old text beside it (0600, timestamped), then replaces the file by a rename (0600 whatever the umask, a new inode), leaving no temporary file", () => {
            const inode = fs.statSync(file).ino;
            const umask = process.umask(0o277);
            let result: ReturnType<typeof writeCertificateProfile>;
            try {
                result = writeCertificateProfile(file, newProfile, new Date("2026-11-30T22:45:01.123Z"));
            } finally {
                process.umask(umask);
            }
            assert.deepEqual(result, { written: true, backup: `${file}.20261130T224501123Z.bak` });
            assert.deepEqual(fs.readdirSync(dir).sort(), ["apimodel.json", "apimodel.json.20261130T224501123Z.bak"]);
            assert.equal(fs.readFileSync(`${file}.20261130T224501123Z.bak`, "utf8"), old());
            assert.equal(mode(`${file}.20261130T224501123Z.bak`), 0o600);
            assert.equal(mode(file), 0o600);
            assert.notEqual(fs.statSync(file).ino, inode, "a new file renamed over the old one");
            assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")).properties.certificateProfile, newProfile);
        });

        it("writes nothing, not even a backup, when the file holds the profile already", () => {
            writeCertificateProfile(file, newProfile, new Date("2026-11-30T22:45:01Z"));
            const written = fs.readFileSync(file, "utf8");
            assert.deepEqual(writeCertificateProfile(file, newProfile, new Date("2026-11-30T22:50:00Z")), { written: false });
            assert.equal(fs.readdirSync(dir).length, 2);
            assert.equal(fs.readFileSync(file, "utf8"), written);
        });

        it("writes a symlink's target and keeps the link", () => {
            const link = path.join(dir, "current.json");
            fs.symlinkSync(file, link);
            writeCertificateProfile(link, newProfile, new Date("2026-11-30T22:45:01Z"));
            assert.ok(fs.lstatSync(link).isSymbolicLink());
            assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")).properties.certificateProfile, newProfile);
            assert.ok(fs.existsSync(`${file}.20261130T224501000Z.bak`));
        });

        it("a rename that fails leaves the file as it was, its backup, and no temporary file", function () {
            if (!RUNS_AS_ROOT) this.skip(); // only the immutable attribute refuses a rename in a writable directory
            try {
                setWritable(file, false);
            } catch {
                this.skip(); // this file system has no immutable attribute
            }
            try {
                assert.throws(() => writeCertificateProfile(file, newProfile, new Date("2026-11-30T22:45:01Z")), /EPERM/);
                assert.deepEqual(fs.readdirSync(dir).sort(), ["apimodel.json", "apimodel.json.20261130T224501000Z.bak"]);
                assert.equal(fs.readFileSync(file, "utf8"), old());
            } finally {
                setWritable(file, true);
            }
        });

        it("a file that no longer parses is left as it was, with no backup and no temporary file", () => {
            fs.writeFileSync(file, "{ broken");
            assert.throws(() => writeCertificateProfile(file, newProfile, new Date()), /is not valid JSON any more/);
            assert.deepEqual(fs.readdirSync(dir), ["apimodel.json"]);
            assert.equal(fs.readFileSync(file, "utf8"), "{ broken");
        });
    });
});
