// Explaining a failed prober request from the testbed's records: the haproxy connection with the
// same client address (the backend it chose) and the rollout step each node was running then.
import { strict as assert } from "assert";
import { explainFailures, parseLbLog, parseStepLog, ProbeFailure } from "../../../../testbed/harness/probeFailures";

/** haproxy writes local time: format a Date as its tcplog %t. */
function haproxyTime(d: Date): string {
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const p = (n: number, w = 2) => String(n).padStart(w, "0");
    return `${p(d.getDate())}/${months[d.getMonth()]}/${d.getFullYear()}:${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

describe("prober failures explained from the balancer log and the nodes' rotation logs", () => {
    const at = new Date("2026-11-30T13:29:28.612Z");
    const lbLog = [
        "[NOTICE]   (1) : New worker (7) forked",
        `10.240.255.1:40312 [${haproxyTime(new Date(at.getTime() - 900))}] kube-apiserver masters/k8s-master-31415926-0 1/0/12 5342 -- 4/4/3/1/0 0/0`,
        `10.240.255.1:40312 [${haproxyTime(new Date(at.getTime() + 1))}] kube-apiserver masters/k8s-master-31415926-1 1/0/2003 0 cD 5/5/4/1/0 0/0`,
        `10.240.255.1:40999 [${haproxyTime(new Date(at.getTime() + 3))}] kube-apiserver masters/k8s-master-31415926-2 1/0/9 5342 -- 5/5/4/1/0 0/0`,
    ].join("\n");
    const stepLog = [
        "2026-11-30T13:29:14.012Z etcd/k8s-master-31415926-1 k8s-master-31415926-1: Initiated: watch digest 0123456789ab",
        "2026-11-30T13:29:27.512Z etcd/k8s-master-31415926-1 k8s-master-31415926-1: kube-apiserver on 10.240.255.6:443 served every read 3 times in a row",
        "2026-11-30T13:29:30.512Z etcd/k8s-master-31415926-1 k8s-master-31415926-1: Success: changed 2 file(s); restarted: etcd",
        "2026-11-30T13:20:00.000Z kubelet/k8s-agentpool1-31415926-0 k8s-agentpool1-31415926-0: Success: changed 0 file(s); restarted: none",
        "2026-11-30T13:29:01.000Z preflight k8s-master-31415926-2: preflight ok (services: etcd=systemd; 23 file(s) verified)",
    ].join("\n");
    const failure: ProbeFailure = { started: at.toISOString(), second: 51, local: "10.240.255.1:40312", latency_ms: 2001.4, error: "deadline exceeded" };

    it("parses haproxy's tcplog lines and skips its notices", () => {
        const conns = parseLbLog(lbLog);
        assert.equal(conns.length, 3);
        assert.deepEqual({ ...conns[1], accepted: undefined }, { client: "10.240.255.1:40312", accepted: undefined, server: "masters/k8s-master-31415926-1", timers: "1/0/2003", termination: "cD" });
        assert.equal(conns[1]!.accepted, at.getTime() + 1);
    });

    it("names the backend of the failed request's own connection and the step running then", () => {
        const [line] = explainFailures([failure], parseLbLog(lbLog), parseStepLog(stepLog));
        assert.equal(
            line,
            "2026-11-30T13:29:28.612Z deadline exceeded after 2001 ms via masters/k8s-master-31415926-1 (haproxy Tw/Tc/Tt 1/0/2003, cD); " +
                "running: etcd/k8s-master-31415926-1 (last logged 13:29:27.512: kube-apiserver on 10.240.255.6:443 served every read 3 times in a row)",
        );
    });

    it("says so when no step ran and when the connection is not in the log", () => {
        const later = { ...failure, started: "2026-11-30T13:40:00.000Z", local: "10.240.255.1:1" };
        assert.equal(
            explainFailures([later], parseLbLog(lbLog), parseStepLog(stepLog))[0],
            "2026-11-30T13:40:00.000Z deadline exceeded after 2001 ms via an unlogged connection from 10.240.255.1:1; running: no step " +
                "(the last to end: etcd/k8s-master-31415926-1, 629.5 s before: Success: changed 2 file(s); restarted: etcd)",
        );
        const first = { ...failure, started: "2026-11-30T13:10:00.000Z" };
        assert.match(explainFailures([first], parseLbLog(lbLog), parseStepLog(stepLog))[0]!, /running: no step \(none had ended\)$/);
    });
});
