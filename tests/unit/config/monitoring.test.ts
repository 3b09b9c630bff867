import { strict as assert } from "assert";
import { parseMonitoringConfig } from "../../../components/config";
import { configProblems } from "../support/config";

describe("config: the monitoring section", () => {
    it("off by default (nothing for existing stacks); on: namespace monitoring, no labels", () => {
        assert.equal(parseMonitoringConfig(undefined), undefined);
        assert.equal(parseMonitoringConfig({}), undefined);
        assert.equal(parseMonitoringConfig({ prometheusRule: false, namespace: "observability" }), undefined);
        assert.deepEqual(parseMonitoringConfig({ prometheusRule: true }), { namespace: "monitoring", labels: {} });
        assert.deepEqual(parseMonitoringConfig({ prometheusRule: "true", namespace: "cattle-monitoring-system", labels: { release: "kube-prometheus-stack", "example.com/team": "" } }), {
            namespace: "cattle-monitoring-system",
            labels: { release: "kube-prometheus-stack", "example.com/team": "" },
        });
    });

    it("names every bad key, also while prometheusRule is false", () => {
        assert.deepEqual(
            configProblems(() => parseMonitoringConfig({ prometheusRule: "yes", namespace: "Monitoring", labels: { "bad key": "x", release: "-x", "a/b/c": "y" }, namspace: "x" })),
            [
                'monitoring.namspace: unknown key (did you mean monitoring.namespace?); known: prometheusRule, namespace, labels',
                'monitoring.prometheusRule: must be true or false, got "yes"',
                `monitoring.namespace: must be a namespace name (lower-case letters, digits and '-', at most 63), got "Monitoring"`,
                "monitoring.labels.bad key: is not a Kubernetes label name ([prefix/]name, the name at most 63 letters, digits, '-', '_' or '.')",
                `monitoring.labels.release: must be a Kubernetes label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit), got "-x"`,
                "monitoring.labels.a/b/c: is not a Kubernetes label name ([prefix/]name, the name at most 63 letters, digits, '-', '_' or '.')",
            ],
        );
        assert.match(configProblems(() => parseMonitoringConfig({ namespace: "x".repeat(64) })).join("\n"), /monitoring\.namespace: must be a namespace name/);
        assert.match(configProblems(() => parseMonitoringConfig({ labels: ["release"] })).join("\n"), /monitoring\.labels: must be an object/);
    });
});
