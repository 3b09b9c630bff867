// The monitoring section of the stack config: whether the program installs the certificate alert
// rules (monitoring/certificate-alerts.rules.yaml) as a PrometheusRule in the cluster, where, and with
// which labels (the Prometheus Operator picks rules up by its ruleSelector's labels). Off by default:
// the cluster needs the Prometheus Operator's PrometheusRule type, and the machine running pulumi
// must reach the apiserver.
import * as pulumi from "@pulumi/pulumi";
import type { AcceptedKeys, ConfigKeyDoc } from "./keys";
import { CONFIG_NAMESPACE, ConfigError, Section } from "./reader";

export const MONITORING_KEY = "monitoring";
/** The fields of the `monitoring` object: what parseMonitoringConfig accepts. */
export const MONITORING_FIELDS = ["prometheusRule", "namespace", "labels"] as const;

/** kube-prometheus's namespace: a Prometheus whose ruleNamespaceSelector is unset reads rules from its own namespace only. */
export const DEFAULT_RULE_NAMESPACE = "monitoring";

/** The keys of this section (see keys.ts). */
export const MONITORING_ACCEPTS: AcceptedKeys = { "": [MONITORING_KEY], [MONITORING_KEY]: MONITORING_FIELDS };

/** The documentation of the keys this section reads (see keys.ts). */
export const MONITORING_KEY_DOCS: ConfigKeyDoc[] = [
    {
        key: "monitoring.prometheusRule",
        type: "boolean",
        default: "false",
        description:
            "install the certificate alert rules (monitoring/certificate-alerts.rules.yaml) as a monitoring.coreos.com/v1 PrometheusRule, with the stack's admin credentials, after the rollout; the cluster needs the Prometheus Operator's CRD, and the machine running pulumi must reach apiServerEndpoint",
    },
    {
        key: "monitoring.namespace",
        type: "namespace name",
        default: DEFAULT_RULE_NAMESPACE,
        description: "the PrometheusRule's namespace (kube-prometheus's; a Prometheus without ruleNamespaceSelector reads rules from its own namespace only); it must exist",
    },
    {
        key: "monitoring.labels",
        type: "string map",
        default: "none",
        description: "labels of the PrometheusRule, so that the Prometheus's ruleSelector picks it up (kube-prometheus-stack: release: <its Helm release>)",
    },
];

/** Where and how the PrometheusRule is installed. */
export interface PrometheusRuleSettings {
    namespace: string;
    labels: Record<string, string>;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const checkNamespace = (s: string): string | undefined => (DNS_LABEL.test(s) && s.length <= 63 ? undefined : "must be a namespace name (lower-case letters, digits and '-', at most 63)");

// Kubernetes label syntax: an optional DNS-subdomain prefix and "/", then a name of at most 63; values at most 63, possibly empty.
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const checkLabelKey = (key: string): string | undefined => {
    const slash = key.lastIndexOf("/");
    const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
    const prefixOk = prefix === undefined || (LABEL_PREFIX.test(prefix) && prefix.length <= 253);
    return prefixOk && LABEL_NAME.test(name) ? undefined : "is not a Kubernetes label name ([prefix/]name, the name at most 63 letters, digits, '-', '_' or '.')";
};
const checkLabelValue = (value: string): string | undefined =>
    value === "" || LABEL_NAME.test(value) ? undefined : "must be a Kubernetes label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)";

/** Validates `monitoring`; undefined when prometheusRule is false. Throws a ConfigError naming every bad field. */
export function parseMonitoringConfig(raw: unknown): PrometheusRuleSettings | undefined {
    const problems: string[] = [];
    const m = new Section(MONITORING_KEY, raw, problems);
    m.rejectUnknown(MONITORING_FIELDS);
    const enabled = m.bool("prometheusRule", false);
    const namespace = m.string("namespace", DEFAULT_RULE_NAMESPACE, checkNamespace);
    const labelSection = m.section("labels");
    const labels: Record<string, string> = {};
    for (const key of labelSection.keys()) {
        const why = checkLabelKey(key);
        if (why) labelSection.report(key, why);
        else labels[key] = labelSection.string(key, undefined, checkLabelValue);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return enabled ? { namespace, labels } : undefined;
}

export function readMonitoringConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE)): PrometheusRuleSettings | undefined {
    let raw: unknown;
    try {
        raw = config.getObject<unknown>(MONITORING_KEY);
    } catch {
        throw new ConfigError([`${CONFIG_NAMESPACE}:${MONITORING_KEY}: not valid JSON/YAML`]);
    }
    return parseMonitoringConfig(raw);
}
