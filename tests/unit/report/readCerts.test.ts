// The report's remote script run here, as root would run it on a node, against a scratch tree of
// real certificates made with openssl ($AZS_ROOT as the rollout scripts' tests use it): what it
// prints, parsed and classified as the report does; checked against openssl's own printout.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { classifyFile, FileEntry } from "../../../report/classify";
import { parseReadCerts, READ_CERTS_SCRIPT, remoteCommand } from "../../../report/collect";
import { scriptArgs, Target } from "../../../report/targets";
import { publicKeyPemFingerprint } from "../../../components/pki/x509";
import { OpenSsl, Pem } from "../support/openssl";

const CERTS = "/etc/kubernetes/certs";
const PKI = "/var/lib/kubelet/pki";
const PRIVATE_KEY_MARKER = ["PRIVATE", "KEY"].join(" ");

function runScript(root: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("bash", [READ_CERTS_SCRIPT, ...args], { env: { ...process.env, AZS_ROOT: root }, encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file and link under a directory with its content's hash and mtime: what "changes nothing" compares. */
function snapshot(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string) => {
        for (const name of fs.readdirSync(d).sort()) {
            const p = path.join(d, name);
            const st = fs.lstatSync(p);
            if (st.isDirectory()) walk(p);
            else out.push(`${p} ${st.mode} ${st.mtimeMs} ${st.isSymbolicLink() ? fs.readlinkSync(p) : createHash("sha256").update(fs.readFileSync(p)).digest("hex")}`);
        }
    };
    walk(dir);
    return out;
}

const openssl = (ssl: OpenSsl, args: string[], pem: string) => ssl.run(["x509", "-noout", ...args], pem).trim();

describe("report: read-certs.sh on a scratch tree of real certificates", function () {
    this.timeout(60_000);
    const ssl = new OpenSsl();
    const root = path.join(ssl.dir, "root");
    const put = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(root + rel), { recursive: true });
        fs.writeFileSync(root + rel, text);
    };
    let ca: Pem, ca2: Pem, apiserver: Pem, client: Pem, stranger: Pem, etcd: Pem, proxy: Pem, kubelet: Pem, admin: Pem;
    let targets: Target[];
    let stdout: string;
    let entries: Map<string, FileEntry>;
    let untouched: string[];
    const now = new Date();

    before(() => {
        ca = ssl.ca({ cn: "ca", key: "rsa2048" });
        ca2 = ssl.ca({ cn: "ca-next" });
        const leaf = (subj: string, ext: string[] = ["keyUsage=critical,digitalSignature,keyEncipherment"]) => ssl.leaf(ca, { subj, days: 365, ext });
        apiserver = leaf("/CN=apiserver", ["subjectAltName=DNS:kubernetes,DNS:kubernetes.default,IP:10.0.0.1,IP:10.240.255.5", "extendedKeyUsage=serverAuth"]);
        client = leaf("/O=system:masters/CN=client");
        stranger = leaf("/CN=stranger");
        etcd = leaf("/CN=etcdserver");
        proxy = leaf("/CN=aggregator");
        kubelet = leaf("/O=system:nodes/CN=system:node:k8s-agentpool1-0");
        admin = leaf("/O=system:masters/CN=client");

        put(`${CERTS}/ca.crt`, ca.cert + ca2.cert); // a bundle: the active CA first
        put(`${CERTS}/ca.key`, ca.key);
        put(`${CERTS}/apiserver.crt`, apiserver.cert);
        put(`${CERTS}/apiserver.key`, apiserver.key);
        put(`${CERTS}/client.crt`, client.cert);
        put(`${CERTS}/client.key`, stranger.key); // another certificate's key
        put(`${CERTS}/etcdserver.crt`, etcd.cert);
        put(`${CERTS}/etcdserver.key`, etcd.key);
        put(`${CERTS}/proxy.crt`, proxy.cert); // proxy.key missing
        // etcdpeer0.crt missing; kubeletserver.crt absent
        put(`${PKI}/kubelet-client-2026-01-01-00-00-00.pem`, kubelet.cert + kubelet.key);
        fs.symlinkSync("kubelet-client-2026-01-01-00-00-00.pem", `${root}${PKI}/kubelet-client-current.pem`);
        fs.symlinkSync("kubelet-server-2026-01-01-00-00-00.pem", `${root}${PKI}/kubelet-server-current.pem`); // dangling
        const b64 = (s: string) => Buffer.from(s).toString("base64");
        // the admin kubeconfig as the program writes it (JSON, embedded), the kubelet's as AKS Engine does (YAML, files)
        put("/home/azureuser/.kube/config", JSON.stringify({ apiVersion: "v1", kind: "Config", users: [{ name: "admin", user: { "client-certificate-data": b64(admin.cert), "client-key-data": b64(admin.key) } }] }, null, 2));
        put("/var/lib/kubelet/kubeconfig", `apiVersion: v1\nkind: Config\nusers:\n- name: client\n  user:\n    client-certificate: ${CERTS}/client.crt\n    client-key: ${CERTS}/client.key\n`);

        targets = [
            { path: `${CERTS}/ca.crt`, kind: "certificate", key: `${CERTS}/ca.key`, expected: true, source: "kubernetes-ca", stateSha256: [ca.cert, ca2.cert].map((p) => fingerprint(p)) },
            { path: `${CERTS}/apiserver.crt`, kind: "certificate", key: `${CERTS}/apiserver.key`, expected: true, source: "apiserver", stateSha256: [fingerprint(apiserver.cert)] },
            { path: `${CERTS}/client.crt`, kind: "certificate", key: `${CERTS}/client.key`, expected: true, source: "client", stateSha256: [fingerprint(client.cert)] },
            { path: `${CERTS}/etcdserver.crt`, kind: "certificate", key: `${CERTS}/etcdserver.key`, expected: true, source: "etcd-server", stateSha256: [fingerprint(stranger.cert)] },
            { path: `${CERTS}/proxy.crt`, kind: "certificate", key: `${CERTS}/proxy.key`, expected: true, source: "front-proxy-client" },
            { path: `${CERTS}/etcdpeer0.crt`, kind: "certificate", key: `${CERTS}/etcdpeer0.key`, expected: true, source: "etcd-peer-0" },
            { path: `${CERTS}/kubeletserver.crt`, kind: "certificate", key: `${CERTS}/kubeletserver.key`, expected: false },
            { path: `${PKI}/kubelet-client-current.pem`, kind: "certificate", key: `${PKI}/kubelet-client-current.pem`, expected: false },
            { path: `${PKI}/kubelet-server-current.pem`, kind: "certificate", key: `${PKI}/kubelet-server-current.pem`, expected: false },
            { path: "/home/azureuser/.kube/config", kind: "kubeconfig", expected: true, source: "kubectl-client", stateSha256: [fingerprint(admin.cert)] },
            { path: "/var/lib/kubelet/kubeconfig", kind: "kubeconfig", expected: false },
        ];
        untouched = snapshot(ssl.dir);
        const run = runScript(root, scriptArgs(targets));
        assert.equal(run.status, 0, run.stderr);
        stdout = run.stdout;
        const readings = parseReadCerts(stdout, targets);
        entries = new Map(targets.map((t, i) => [t.path, classifyFile(t, readings[i]!, now, 60)]));
    });
    after(() => ssl.remove());

    function fingerprint(pem: string): string {
        return openssl(ssl, ["-fingerprint", "-sha256"], pem).replace(/^sha256 Fingerprint=/i, "");
    }
    const entry = (p: string) => entries.get(p)!;

    it("changes nothing on the node: every file, link, mode and mtime as before", () => {
        assert.deepEqual(snapshot(ssl.dir), untouched);
    });

    it("sends back no private key: certificates and key hashes only, though it read a pem holding both and two kubeconfigs", () => {
        assert.ok(!stdout.includes(PRIVATE_KEY_MARKER), "a private key in the output");
        for (const pem of [ca.key, client.key, kubelet.key, admin.key]) {
            const body = pem.split("\n")[1]!;
            assert.ok(!stdout.includes(body), "a line of a private key in the output");
            assert.ok(!stdout.includes(Buffer.from(pem).toString("base64").slice(0, 40)), "an embedded key in the output");
        }
    });

    it("reads subject, issuer, SANs, dates and SHA-256 as openssl prints them", () => {
        const e = entry(`${CERTS}/apiserver.crt`);
        assert.equal(e.certificates.length, 1);
        const c = e.certificates[0]!;
        assert.equal(c.sha256, fingerprint(apiserver.cert));
        assert.equal(c.subject, "CN=apiserver");
        assert.equal(c.subject, openssl(ssl, ["-subject", "-nameopt", "RFC2253"], apiserver.cert).replace(/^subject=/, ""));
        assert.equal(c.issuer, openssl(ssl, ["-issuer", "-nameopt", "RFC2253"], apiserver.cert).replace(/^issuer=/, ""));
        assert.equal(c.notAfter, new Date(openssl(ssl, ["-enddate"], apiserver.cert).replace(/^notAfter=/, "")).toISOString());
        assert.equal(c.notBefore, new Date(openssl(ssl, ["-startdate"], apiserver.cert).replace(/^notBefore=/, "")).toISOString());
        assert.deepEqual(c.dnsNames, ["kubernetes", "kubernetes.default"]);
        assert.deepEqual(c.ipAddresses, ["10.0.0.1", "10.240.255.5"]);
        assert.match(openssl(ssl, ["-ext", "subjectAltName"], apiserver.cert), /DNS:kubernetes, DNS:kubernetes.default, IP Address:10.0.0.1, IP Address:10.240.255.5/);
        assert.ok(c.daysLeft === 364 || c.daysLeft === 365, `daysLeft ${c.daysLeft}`);
        // components/pki/x509.ts's form: RFC 2253 order (the last RDN first), ", " between them
        assert.equal(entry(`${CERTS}/client.crt`).certificates[0]!.subject, "CN=client, O=system:masters");
        assert.equal(openssl(ssl, ["-subject", "-nameopt", "RFC2253"], client.cert), "subject=CN=client,O=system:masters");
    });

    it("a matching pair, as the state says: ok, the key's hash (computed by the script) is the certificate's public key's", () => {
        const e = entry(`${CERTS}/apiserver.crt`);
        assert.deepEqual([e.state, e.key, e.matchesState, e.problems], ["ok", { path: `${CERTS}/apiserver.key`, status: "match" }, true, []]);
        assert.match(stdout, new RegExp(`@file ${CERTS}/apiserver.crt\\n@status present\\n@mode 644\\n`));
    });

    it("a bundle: every certificate in order, the key matched against the first", () => {
        const e = entry(`${CERTS}/ca.crt`);
        assert.deepEqual(e.certificates.map((c) => c.subject), ["CN=ca", "CN=ca-next"]);
        assert.deepEqual([e.state, e.key.status, e.matchesState], ["ok", "match", true]);
    });

    it("a key that is not the certificate's: key-mismatch, named", () => {
        const e = entry(`${CERTS}/client.crt`);
        assert.deepEqual([e.state, e.key, e.matchesState], ["key-mismatch", { path: `${CERTS}/client.key`, status: "mismatch" }, true]);
        assert.deepEqual(e.problems, [`the private key ${CERTS}/client.key is not the key of its certificate (CN=client, O=system:masters)`]);
    });

    it("a key file that is missing: key-mismatch, naming it", () => {
        const e = entry(`${CERTS}/proxy.crt`);
        assert.deepEqual([e.state, e.key], ["key-mismatch", { path: `${CERTS}/proxy.key`, status: "missing" }]);
        assert.deepEqual(e.problems, [`its private key ${CERTS}/proxy.key is missing`]);
    });

    it("another certificate than the state's: drifted, with both fingerprints", () => {
        const e = entry(`${CERTS}/etcdserver.crt`);
        assert.deepEqual([e.state, e.key.status, e.matchesState], ["drifted", "match", false]);
        assert.match(e.problems[0]!, new RegExp(`^holds ${fingerprint(etcd.cert).slice(0, 23)}…; the state says ${fingerprint(stranger.cert).slice(0, 23)}… \\(etcd-server\\)$`));
    });

    it("a missing file the state puts there: missing, and the run goes on; one the program does not write: absent", () => {
        assert.deepEqual([entry(`${CERTS}/etcdpeer0.crt`).state, entry(`${CERTS}/etcdpeer0.crt`).present, entry(`${CERTS}/etcdpeer0.crt`).problems], ["missing", false, ["missing: the state puts etcd-peer-0 here"]]);
        assert.deepEqual([entry(`${CERTS}/kubeletserver.crt`).state, entry(`${CERTS}/kubeletserver.crt`).problems], ["absent", []]);
        assert.match(stdout, new RegExp(`@file ${CERTS}/etcdpeer0.crt\\n@status missing\\n@end\\n`));
    });

    it("the kubelet's rotated client certificate: through its symbolic link, the pem's certificate and key matched, the key not sent", () => {
        const e = entry(`${PKI}/kubelet-client-current.pem`);
        assert.deepEqual([e.state, e.link, e.key.status, e.certificates.length, e.certificates[0]!.subject], ["ok", "kubelet-client-2026-01-01-00-00-00.pem", "match", 1, "CN=system:node:k8s-agentpool1-0, O=system:nodes"]);
        assert.equal(e.mode, "644");
    });

    it("a dangling link: unreadable, saying where it points", () => {
        const e = entry(`${PKI}/kubelet-server-current.pem`);
        assert.deepEqual([e.state, e.problems], ["unreadable", ["a symbolic link to kubelet-server-2026-01-01-00-00-00.pem, which does not exist"]]);
    });

    it("kubeconfigs: the embedded client certificate and key (JSON), and the files a YAML one names", () => {
        const a = entry("/home/azureuser/.kube/config");
        assert.deepEqual([a.state, a.certificateFrom, a.key, a.matchesState, a.certificates[0]!.sha256], ["ok", "embedded", { path: null, status: "match" }, true, fingerprint(admin.cert)]);
        const k = entry("/var/lib/kubelet/kubeconfig");
        assert.deepEqual([k.state, k.certificateFrom, k.key.status, k.certificates[0]!.sha256], ["key-mismatch", `${CERTS}/client.crt`, "mismatch", fingerprint(client.cert)]);
    });

    it("a kubeconfig without a client certificate or whose certificate file is gone: unreadable; no key: key-mismatch", () => {
        put("/tmp/token.kubeconfig", "users:\n- name: u\n  user:\n    token: abc\n");
        put("/tmp/gone.kubeconfig", "users:\n- name: u\n  user:\n    client-certificate: gone.crt\n    client-key: gone.key\n");
        const t: Target[] = [
            { path: "/tmp/token.kubeconfig", kind: "kubeconfig", expected: true },
            { path: "/tmp/gone.kubeconfig", kind: "kubeconfig", expected: true },
        ];
        const run = runScript(root, scriptArgs(t));
        assert.equal(run.status, 0, run.stderr);
        const [token, gone] = parseReadCerts(run.stdout, t).map((r, i) => classifyFile(t[i]!, r, now, 60));
        assert.deepEqual([token!.state, token!.states, token!.certificateFrom, token!.problems], ["unreadable", ["unreadable", "key-mismatch"], "none", ["no client certificate in the kubeconfig", "its private key client-key-data is missing"]]);
        // a relative name is relative to the kubeconfig's directory
        assert.deepEqual([gone!.state, gone!.certificateFrom, gone!.key], ["unreadable", "/tmp/gone.crt", { path: "/tmp/gone.key", status: "missing" }]);
        assert.equal(gone!.problems[0], "the client certificate it names, /tmp/gone.crt, is missing or unreadable");
    });

    it("arguments not in threes or of an unknown kind: exit 2 before reading anything", () => {
        assert.equal(runScript(root, ["cert", `${CERTS}/ca.crt`]).status, 2);
        const r = runScript(root, ["pfx", `${CERTS}/ca.crt`, "-"]);
        assert.equal(r.status, 2);
        assert.match(r.stderr, /unknown kind pfx/);
    });

    it("the parser refuses output that was cut off or answers for other files", () => {
        assert.throws(() => parseReadCerts(stdout.replace("@done\n", ""), targets), /cut off/);
        assert.throws(() => parseReadCerts(stdout, targets.slice(1)), /answered for 11 files, not the 10 asked/);
    });

    it("the remote command: the script on stdin to sudo -n bash -s, the files as quoted arguments", () => {
        const cmd = remoteCommand(targets.slice(0, 2));
        assert.equal(cmd, `sudo -n bash -s -- 'cert' '${CERTS}/ca.crt' '${CERTS}/ca.key' 'cert' '${CERTS}/apiserver.crt' '${CERTS}/apiserver.key'`);
        // the same command, run by a shell here with the script on stdin, gives the same output (sudo left out)
        const out = execFileSync("bash", ["-c", cmd.replace(/^sudo -n /, "")], { input: fs.readFileSync(READ_CERTS_SCRIPT), env: { ...process.env, AZS_ROOT: root }, encoding: "utf8" });
        assert.deepEqual(parseReadCerts(out, targets.slice(0, 2)).map((r) => r.certificates.length), [2, 1]);
    });

    describe("public-key files (sa.pub, kind pubkeys)", () => {
        const SA = `${CERTS}/sa.pub`;
        let keys: { private: string; public: string }[];
        /** The node's computation, run here: sha256sum of openssl's DER SubjectPublicKeyInfo. */
        const sha256sum = (publicPem: string) => execFileSync("bash", ["-c", "set -o pipefail; openssl pkey -pubin -outform DER | sha256sum"], { input: publicPem, encoding: "utf8" }).split(" ")[0]!;
        const saTarget = (path: string, stateSha256?: string[]): Target => ({ path, kind: "publicKeys", expected: true, source: "service-account", ...(stateSha256 ? { stateSha256 } : {}) });
        before(() => {
            const key = (algorithm: string[]) => {
                const priv = ssl.run(["genpkey", ...algorithm]);
                return { private: priv, public: ssl.run(["pkey", "-pubout"], priv) };
            };
            keys = [key(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]), key(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]), key(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])];
            put(SA, `# service-account keys\n${keys[0]!.public}${keys[1]!.public}`);
            put("/srv/a/sa.pub", keys[0]!.public + ca.cert + keys[2]!.private);
            put("/srv/b/sa.pub", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
            put("/srv/c/sa.pub", keys[1]!.public.replace(/\n/g, "\r\n").trimEnd()); // CRLF, no newline at the end
        });

        it("a good sa.pub: one @pubkey per key, in order, each the SHA-256 of the key's DER as openssl and sha256sum give it and as the nodeFiles output computes it; ok against the state", () => {
            const t = [saTarget(SA, [keys[0]!.public, keys[1]!.public].map(publicKeyPemFingerprint))];
            assert.deepEqual(scriptArgs(t), ["pubkeys", SA, "-"]);
            const before = snapshot(ssl.dir);
            const run = runScript(root, scriptArgs(t));
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(snapshot(ssl.dir), before, "read-only");
            const [a, b] = [sha256sum(keys[0]!.public), sha256sum(keys[1]!.public)];
            assert.equal(run.stdout, `@file ${SA}\n@status present\n@mode 644\n@pubkey ${a}\n@pubkey ${b}\n@end\n@done\n`);
            assert.deepEqual([a, b], t[0]!.stateSha256);
            const [reading] = parseReadCerts(run.stdout, t);
            assert.deepEqual(reading!.publicKeys, [a, b]);
            const e = classifyFile(t[0]!, reading!, now, 60);
            assert.deepEqual([e.kind, e.state, e.states, e.matchesState, e.publicKeys, e.certificates, e.key, e.problems], ["publicKeys", "ok", ["ok"], true, [a, b], [], { path: null, status: "none" }, []]);
            // another key, or the same ones in another order: drifted, saying both
            const order = classifyFile(saTarget(SA, [b, a]), reading!, now, 60);
            assert.deepEqual([order.state, order.matchesState], ["drifted", false]);
            assert.equal(order.problems[0], `holds public keys ${a.slice(0, 16)}…, ${b.slice(0, 16)}…; the state says ${b.slice(0, 16)}…, ${a.slice(0, 16)}… (service-account)`);
        });

        it("a block that is not a public key, or one that does not parse: @problem (a private key named by its label, never printed), unreadable; CRLF and no final newline read", () => {
            const t = ["/srv/a/sa.pub", "/srv/b/sa.pub", "/srv/c/sa.pub"].map((p) => saTarget(p, [sha256sum(keys[0]!.public)]));
            const run = runScript(root, scriptArgs(t));
            assert.equal(run.status, 0, run.stderr);
            assert.ok(!run.stdout.includes("-----BEGIN") && !run.stdout.includes(keys[2]!.private.split("\n")[1]!), "no PEM, and no line of the private key, in the output");
            assert.match(run.stdout, new RegExp(`@file /srv/a/sa.pub\n@status present\n@mode 644\n@pubkey ${sha256sum(keys[0]!.public)}\n@problem block 2 is a CERTIFICATE, not a PUBLIC KEY\n@problem block 3 is a PRIVATE KEY, not a PUBLIC KEY\n@end\n`));
            const [a, b, c] = parseReadCerts(run.stdout, t).map((r, i) => classifyFile(t[i]!, r, now, 60));
            assert.deepEqual([a!.state, a!.states, a!.matchesState, a!.publicKeys.length], ["unreadable", ["unreadable"], true, 1]);
            assert.deepEqual(a!.problems, ["block 2 is a CERTIFICATE, not a PUBLIC KEY", "block 3 is a PRIVATE KEY, not a PUBLIC KEY"]);
            assert.deepEqual([b!.state, b!.states, b!.problems], ["unreadable", ["unreadable", "drifted"], ["block 1, a PUBLIC KEY, does not parse", "holds no public key; the state says " + `${sha256sum(keys[0]!.public).slice(0, 16)}… (service-account)`]]);
            assert.deepEqual([c!.state, c!.publicKeys], ["drifted", [sha256sum(keys[1]!.public)]]);
        });

        it("a missing sa.pub: @status missing, no key read; missing where the state puts it", () => {
            const t = [saTarget("/srv/none/sa.pub", ["ab".repeat(32)])];
            assert.deepEqual(scriptArgs(t), ["pubkeys", "/srv/none/sa.pub", "-"]);
            const run = runScript(root, scriptArgs(t));
            assert.equal(run.stdout, "@file /srv/none/sa.pub\n@status missing\n@end\n@done\n");
            const e = classifyFile(t[0]!, parseReadCerts(run.stdout, t)[0]!, now, 60);
            assert.deepEqual([e.state, e.present, e.problems], ["missing", false, ["missing: the state puts service-account here"]]);
        });

        it("pubkeys with a key file: exit 2 before reading it", () => {
            const r = runScript(root, ["pubkeys", SA, `${CERTS}/sa.key`]);
            assert.equal(r.status, 2);
            assert.match(r.stderr, /pubkeys .* takes no key file/);
            assert.doesNotMatch(r.stdout, /@pubkey/);
        });
    });
});
