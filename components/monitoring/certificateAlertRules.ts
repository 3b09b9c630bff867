// The certificate alert rules in the cluster (monitoring.prometheusRule): the groups of
// monitoring/certificate-alerts.rules.yaml, the file promtool checks and tests, as a
// monitoring.coreos.com/v1 PrometheusRule, through a Kubernetes provider of its own built from the
// stack's admin kubeconfig (never the ambient ~/.kube/config, which may point at another cluster).
import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

// js-yaml has no typings here; the one function used is declared.
const yaml = require("js-yaml") as { load(text: string, options: { filename: string }): unknown };

/** The rules file in the repository: its groups go into the PrometheusRule as they are. */
export const CERTIFICATE_ALERT_RULES_FILE = path.join(__dirname, "../../monitoring/certificate-alerts.rules.yaml");

/** The PrometheusRule's name in its namespace. */
export const PROMETHEUS_RULE_NAME = "azs-cert-rotation-certificate-alerts";

/** One group of a Prometheus rules file, as PrometheusRule's spec.groups holds it. */
export interface RuleGroup {
    name: string;
    rules: Record<string, unknown>[];
}

const isRuleGroup = (g: unknown): g is RuleGroup =>
    typeof g === "object" && g !== null && typeof (g as RuleGroup).name === "string" && Array.isArray((g as RuleGroup).rules) && (g as RuleGroup).rules.length > 0;

/** The rule groups of a rules file (YAML anchors resolved, as Prometheus reads them). Throws when the file holds no groups of rules. */
export function readRuleGroups(file: string = CERTIFICATE_ALERT_RULES_FILE): RuleGroup[] {
    const groups = (yaml.load(fs.readFileSync(file, "utf8"), { filename: file }) as { groups?: unknown } | null)?.groups;
    if (!Array.isArray(groups) || groups.length === 0 || !groups.every(isRuleGroup)) {
        throw new Error(`${file}: not a Prometheus rules file (a non-empty list "groups" of {name, rules})`);
    }
    return groups;
}

export interface CertificateAlertRulesArgs {
    /** The stack's admin kubeconfig (secret): the apiserver endpoint, the Kubernetes CA bundle, the admin client certificate. */
    kubeconfig: pulumi.Input<string>;
    namespace: string;
    /** The PrometheusRule's labels, for the Prometheus's ruleSelector. */
    labels: Record<string, string>;
    groups: RuleGroup[];
    /** What the rule waits for: the rollout, after which the cluster trusts the credentials the kubeconfig carries. */
    after: pulumi.Resource[];
}

/** The PrometheusRule and the provider that installs it. */
export class CertificateAlertRules extends pulumi.ComponentResource {
    readonly provider: k8s.Provider;
    readonly rule: k8s.apiextensions.CustomResource;

    constructor(name: string, args: CertificateAlertRulesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:monitoring:CertificateAlertRules", name, {}, opts);
        this.provider = new k8s.Provider(`${name}-cluster`, { kubeconfig: args.kubeconfig }, { parent: this });
        this.rule = new k8s.apiextensions.CustomResource(
            name,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: { name: PROMETHEUS_RULE_NAME, namespace: args.namespace, labels: { "app.kubernetes.io/managed-by": "azs-cert-rotation", ...args.labels } },
                spec: { groups: args.groups },
            },
            { parent: this, provider: this.provider, dependsOn: args.after },
        );
        this.registerOutputs({ rule: this.rule.metadata });
    }
}
