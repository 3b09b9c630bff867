// A report of four nodes classified at a fixed time (report/classify.ts) from openssl certificates
// with fixed dates: healthy, due, expired and drifted certificates and a missing file. The HTML
// report's test renders it, and docs/report-timeline.ts makes the README's picture of it.
import { X509Certificate } from "crypto";
import { classify, Report } from "../../../report/classify";
import type { FileReading } from "../../../report/collect";
import type { Target } from "../../../report/targets";
import { OpenSsl, Pem } from "./openssl";

export const SAMPLE_NOW = new Date("2026-12-01T09:00:00Z");
export const SAMPLE_WARN_DAYS = 60;
const DAY_MS = 86_400_000;
const CERTS = "/etc/kubernetes/certs";
const MASTERS = ["k8s-master-31415926-0", "k8s-master-31415926-1"];
const AGENTS = ["k8s-agentpool1-31415926-0", "k8s-agentpool1-31415926-1"];

type File = [Target, FileReading];

/** The sample report: its certificates made in `ssl`'s directory. */
export function sampleReport(ssl: OpenSsl): Report {
    /** A certificate valid from `from` to `to` days after SAMPLE_NOW (negative: before), signed by `issuer` (a CA without one). */
    const dated = (subj: string, from: number, to: number, issuer?: Pem) =>
        ssl.dated({
            subj,
            notBefore: new Date(SAMPLE_NOW.getTime() + from * DAY_MS),
            notAfter: new Date(SAMPLE_NOW.getTime() + to * DAY_MS),
            ext: issuer ? ["keyUsage=critical,digitalSignature,keyEncipherment"] : ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"],
            ...(issuer ? { issuer } : {}),
        });
    const caPem = dated("/CN=ca", -1100, 2550);
    const cert = (subj: string, from: number, to: number) => dated(subj, from, to, caPem).cert;
    const ca = caPem.cert;
    const apiserver = cert("/CN=apiserver", -200, 165);
    const etcdPeer0 = cert("/CN=etcdpeer0", -330, 35); // due
    const etcdPeer1 = cert("/CN=etcdpeer1", -380, -15); // expired
    const client = cert("/O=system:masters/CN=client", -250, 115);
    const oldClient = cert("/O=system:masters/CN=client", -320, 45); // put back by hand: drifted
    const expiredClient = cert("/O=system:masters/CN=client", -390, -25); // expired
    const kubeletServing = cert(`/CN=${AGENTS[0]}`, -40, 50); // the kubelet's own, due
    const kubeletClient = cert(`/O=system:nodes/CN=system:node:${AGENTS[1]}`, -20, 345);

    const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
    /** A file on the node holding `certificates`; the state says it holds `stateOf` (the program's files). */
    const present = (path: string, certificates: string[], stateOf?: string[]): File => [
        { path, kind: "certificate", expected: stateOf !== undefined, ...(stateOf ? { source: path.split("/").pop()!.replace(/\..*/, ""), stateSha256: stateOf.map(fp) } : {}) },
        { path, status: "present", problems: [], mode: "644", certificates, key: { status: "none" } },
    ];
    const missing = (path: string, source: string): File => [
        { path, kind: "certificate", expected: true, source },
        { path, status: "missing", problems: [], certificates: [], key: { status: "none" } },
    ];
    const same = (path: string, pem: string) => present(path, [pem], [pem]);
    const nodes: [string, "master" | "agent", string, File[]][] = [
        [MASTERS[0]!, "master", "10.240.255.5", [same(`${CERTS}/ca.crt`, ca), same(`${CERTS}/apiserver.crt`, apiserver), same(`${CERTS}/etcdpeer0.crt`, etcdPeer0), same(`${CERTS}/client.crt`, client)]],
        [MASTERS[1]!, "master", "10.240.255.6", [same(`${CERTS}/ca.crt`, ca), same(`${CERTS}/apiserver.crt`, apiserver), same(`${CERTS}/etcdpeer1.crt`, etcdPeer1), same(`${CERTS}/client.crt`, client), missing(`${CERTS}/proxy.crt`, "front-proxy-client")]],
        [AGENTS[0]!, "agent", "10.240.255.40", [same(`${CERTS}/ca.crt`, ca), present(`${CERTS}/client.crt`, [oldClient], [client]), present(`${CERTS}/kubeletserver.crt`, [kubeletServing])]],
        [AGENTS[1]!, "agent", "10.240.255.41", [same(`${CERTS}/ca.crt`, ca), same(`${CERTS}/client.crt`, expiredClient), present("/var/lib/kubelet/pki/kubelet-client-current.pem", [kubeletClient])]],
    ];
    return classify({
        stack: "prod",
        warnDays: SAMPLE_WARN_DAYS,
        now: SAMPLE_NOW,
        nodes: nodes.map(([name, role, ip, files]) => ({ name, role, ip, targets: files.map(([t]) => t), reading: { node: name, files: files.map(([, r]) => r) } })),
    });
}
