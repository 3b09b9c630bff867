// The remote step scripts (components/rollout/scripts) run directly over SSH on a testbed master,
// without the engine: what each does with good, unchanged and bad input.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { preflightParams, stepParams } from "../../components/rollout/stepParams";
import { certFile as file, CERTS, runStep, testbedParamContext, testbedParamNode } from "./support/steps";
import { testbedRollout } from "../../testbed/harness/workspace";
import { activityOf, fingerprint, onNode, servedFingerprint, testbed, TESTBED_STATE, testbedNodes } from "./support/testbed";

const PKI = path.join(TESTBED_STATE, "pki");

/** A new etcd serving certificate with the testbed's SANs, signed by the testbed CA (or by `caDir`'s CA). */
function newEtcdServerCert(dir: string, caDir = PKI): { cert: string; key: string } {
    const san = execFileSync("openssl", ["x509", "-in", path.join(PKI, "etcdserver.crt"), "-noout", "-ext", "subjectAltName"], { encoding: "utf8" })
        .split("\n")[1]!
        .trim()
        .replace(/IP Address/g, "IP")
        .replace(/\s/g, "");
    fs.writeFileSync(path.join(dir, "ext.cnf"), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
    execFileSync("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, "es.key"), "-subj", "/CN=etcdserver", "-out", path.join(dir, "es.csr")], { stdio: "ignore" });
    execFileSync("openssl", ["x509", "-req", "-in", path.join(dir, "es.csr"), "-CA", path.join(caDir, "ca.crt"), "-CAkey", path.join(caDir, "ca.key"), "-CAcreateserial", "-days", "30", "-extfile", path.join(dir, "ext.cnf"), "-out", path.join(dir, "es.crt")], { stdio: "ignore" });
    return { cert: fs.readFileSync(path.join(dir, "es.crt"), "utf8"), key: fs.readFileSync(path.join(dir, "es.key"), "utf8") };
}

describe("remote step scripts on a testbed master", function () {
    let master: { name: string; ip: string };
    let params: Record<string, string>;
    let preflight: Record<string, string>;
    let scratch: string;
    const installed = (name: string) => onNode(master.name, `sudo sha256sum ${CERTS}/${name}`).split(" ")[0];

    before(() => {
        testbed("up");
        const m = testbedNodes().find((n) => n.role === "master" && n.index === 0)!;
        master = m;
        const ctx = testbedParamContext(60);
        const node = testbedParamNode(m.name);
        params = stepParams(ctx, node, "etcd");
        preflight = preflightParams(ctx, node);
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "azs-scripts-"));
    });

    after(() => fs.rmSync(scratch, { recursive: true, force: true }));

    it("preflight: reachable, sudo, tools, room, every service run as the inventory declares", async () => {
        const r = await runStep(master.name, "preflight", [master.name, "0"], preflight, []);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /"preflight":"ok"/);
        const bad = await runStep(master.name, "preflight", [master.name, "0"], { ...preflight, services: "no-such-service=systemd" }, []);
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /no-such-service is declared a systemd unit, but the node has neither a systemd unit nor a static pod manifest/);
        // AKS Engine's default (a static pod) on the testbed, whose apiserver is a systemd unit
        const staticPod = await runStep(master.name, "preflight", [master.name, "0"], { ...preflight, services: preflight.services!.replace("kube-apiserver=systemd", "kube-apiserver=staticPod") }, []);
        assert.notEqual(staticPod.status, 0);
        assert.match(staticPod.stderr, new RegExp(`${master.name}: kube-apiserver is declared a static pod, but the node has a systemd unit kube-apiserver\\.service`));
        const none = await runStep(master.name, "preflight", [master.name, "0"], { ...preflight, services: preflight.services!.replace("etcd=systemd", "etcd=none") }, []);
        assert.match(none.stderr, /etcd is declared not to run here, but the node has a systemd unit etcd\.service/);
    });

    it("preflight: the load balancer's probes arrive from the configured source, else the drain could not work", async () => {
        const lb = testbedRollout().loadBalancerProbeSources as string[];
        const ok = await runStep(master.name, "preflight", [master.name, "0"], { ...preflight, lb_probe_sources: lb.join(" "), lb_settle: "3" }, []);
        assert.equal(ok.status, 0, ok.stderr);
        const wrong = await runStep(master.name, "preflight", [master.name, "0"], { ...preflight, lb_probe_sources: "10.240.255.99", lb_settle: "3" }, []);
        assert.notEqual(wrong.status, 0);
        assert.match(wrong.stderr, new RegExp(`${master.name}: no connection to port 443 came from rollout.loadBalancerProbeSources \\(10\\.240\\.255\\.99\\) in 3 s \\([1-9][0-9]* from other addresses\\)`));
        assert.equal(onNode(master.name, "sudo iptables -S INPUT | grep -c probe-count || true").trim(), "0", "the counting rules are gone");
    });

    it("rotate with the files the node already has: changes nothing, restarts nothing", async () => {
        const same = ["etcdserver.crt", "etcdserver.key", "etcdpeer0.crt", "etcdpeer0.key"].map((f) => file(f, onNode(master.name, `sudo cat ${CERTS}/${f}`)));
        const r = await runStep(master.name, "rotate", ["etcd", master.name, "0"], params, same);
        assert.equal(r.status, 0, r.stderr);
        const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { status: string; changed: string[]; restarted: string[] };
        assert.deepEqual([out.status, out.changed, out.restarted], ["Success", [], []]);
    });

    it("rotate etcd's serving certificate: swapped atomically with a backup, 0600 key, reloaded by etcd without a restart", async () => {
        const pidBefore = onNode(master.name, "pgrep -f '^/usr/local/bin/etcd ' | head -n1").trim();
        const previous = onNode(master.name, `cat ${CERTS}/etcdserver.crt`);
        const { cert, key } = newEtcdServerCert(scratch);
        const r = await runStep(master.name, "rotate", ["etcd", master.name, "1"], params, [file("etcdserver.crt", cert), file("etcdserver.key", key)]);
        assert.equal(r.status, 0, r.stderr);
        const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { changed: string[]; restarted: string[]; backup: string };
        assert.deepEqual(out.changed, [`${CERTS}/etcdserver.crt`, `${CERTS}/etcdserver.key`]);
        assert.deepEqual(out.restarted, []);
        assert.equal(onNode(master.name, "pgrep -f '^/usr/local/bin/etcd ' | head -n1").trim(), pidBefore, "etcd was not restarted");
        assert.equal(servedFingerprint(master.ip, 2379, master.name, { cert: `${CERTS}/etcdclient.crt`, key: `${CERTS}/etcdclient.key` }), fingerprint(cert));
        assert.equal(onNode(master.name, `stat -c %a ${CERTS}/etcdserver.key`).trim(), "600");
        assert.equal(onNode(master.name, `sudo cat ${out.backup}${CERTS}/etcdserver.crt`).trim(), previous.trim(), "the previous file is in the backup");
        assert.match(onNode(master.name, "cat /var/log/azure/rotate-certs.log"), /etcd\/k8s-master-31415926-0 k8s-master-31415926-0: Success/);
    });

    it("bad input is refused before anything changes: a key that does not match, a foreign CA, a cut-off input", async () => {
        const before = installed("etcdserver.crt");
        const { cert, key } = newEtcdServerCert(scratch);
        const other = newEtcdServerCert(fs.mkdtempSync(path.join(scratch, "o-")));
        const mismatched = await runStep(master.name, "rotate", ["etcd", master.name, "2"], params, [file("etcdserver.crt", cert), file("etcdserver.key", other.key)]);
        assert.notEqual(mismatched.status, 0);
        assert.match(mismatched.stderr, /etcdserver\.crt does not match the private key .*nothing was changed/);

        const foreignCa = fs.mkdtempSync(path.join(scratch, "ca-"));
        execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(foreignCa, "ca.key"), "-subj", "/CN=foreign", "-days", "30", "-out", path.join(foreignCa, "ca.crt")], { stdio: "ignore" });
        const foreign = newEtcdServerCert(foreignCa, foreignCa);
        const unsigned = await runStep(master.name, "rotate", ["etcd", master.name, "2"], params, [file("etcdserver.crt", foreign.cert), file("etcdserver.key", foreign.key)]);
        assert.notEqual(unsigned.status, 0);
        assert.match(unsigned.stderr, /not signed by any of the cluster's CAs; nothing was changed/);

        const cut = await runStep(master.name, "rotate", ["etcd", master.name, "2"], params, [file("etcdserver.crt", cert), file("etcdserver.key", key)], { cut: true });
        assert.notEqual(cut.status, 0);
        assert.match(cut.stderr, /the input was cut off/);

        assert.equal(installed("etcdserver.crt"), before, "nothing changed on the node");
        const activity = activityOf(master.name);
        assert.equal(activity[`etcd/${master.name}`]!.status, "Failed");
    });
});
