import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { parseRolloutConfig } from "../../../components/config";
import { FAKE_SSH_KEY } from "../support/mocks";


describe("config: the rollout section", () => {
    const key = { value: FAKE_SSH_KEY, secret: true };
    const problems = (raw: unknown, ssh: { value?: string; secret: boolean }) => {
        try {
            parseRolloutConfig(raw, ssh);
            return [];
        } catch (e) {
            return (e as { problems: string[] }).problems;
        }
    };

    it("defaults: enabled, one agent at a time, 300 s gates, 15 s load balancer settle, Azure's probe source", () => {
        const s = parseRolloutConfig(undefined, key);
        assert.deepEqual(
            { ...s, sshPrivateKey: undefined },
            { enabled: true, maxUnavailable: 1, healthTimeoutSeconds: 300, loadBalancerSettleSeconds: 15, loadBalancerProbeSources: ["168.63.129.16"], backupsKept: 5, driftCheck: true, clusterNamespaces: ["kube-system"], workloadTimeoutSeconds: 600, sshPrivateKey: undefined },
        );
        assert.deepEqual(parseRolloutConfig({ loadBalancerProbeSources: [] }, key).loadBalancerProbeSources, []);
        assert.ok(pulumi.Output.isInstance(s.sshPrivateKey));
    });

    it("needs the SSH key, as a secret, when enabled; not when disabled", () => {
        assert.match(problems({}, { secret: false }).join("\n"), /sshPrivateKey: required to install certificates/);
        assert.match(problems({}, { value: FAKE_SSH_KEY, secret: false }).join("\n"), /must be stored as a secret/);
        assert.match(problems({}, { value: "ssh-ed25519 AAAA", secret: true }).join("\n"), /not a PEM\/OpenSSH private key/);
        assert.deepEqual(problems({ enabled: false }, { secret: false }), []);
    });

    it("refuses IPv6 probe sources (iptables filters IPv4 only); IPv4 ones are kept", () => {
        assert.deepEqual(problems({ loadBalancerProbeSources: ["168.63.129.16", "fe80::1234:1"] }, key), [
            'rollout.loadBalancerProbeSources[1]: IPv6 probe sources are not supported: draining refuses them with iptables, which filters IPv4 only, got "fe80::1234:1"',
        ]);
        assert.deepEqual(parseRolloutConfig({ loadBalancerProbeSources: ["168.63.129.16", "10.240.255.20"] }, key).loadBalancerProbeSources, ["168.63.129.16", "10.240.255.20"]);
    });

    it("maxUnavailablePerPool: an integer ≥ 1 per pool, kept only when set; a bad value or a non-object named", () => {
        assert.equal("maxUnavailablePerPool" in parseRolloutConfig({ maxUnavailable: 2 }, key), false);
        assert.deepEqual(parseRolloutConfig({ maxUnavailable: 2, maxUnavailablePerPool: { linuxpool: 3, gpupool: "1" } }, key).maxUnavailablePerPool, { linuxpool: 3, gpupool: 1 });
        assert.deepEqual(problems({ maxUnavailablePerPool: { linuxpool: 0, gpupool: 1.5, winpool: "two" } }, key), [
            "rollout.maxUnavailablePerPool.linuxpool: must be an integer from 1 to 1000, got 0",
            "rollout.maxUnavailablePerPool.gpupool: must be an integer from 1 to 1000, got 1.5",
            'rollout.maxUnavailablePerPool.winpool: must be an integer from 1 to 1000, got "two"',
        ]);
        assert.deepEqual(problems({ maxUnavailablePerPool: 2 }, key), ["rollout.maxUnavailablePerPool: must be an object, got 2"]);
    });

    it("names every bad key", () => {
        const found = problems({ maxUnavailable: 0, healthTimeoutSeconds: "soon", maxUnavailible: 2 }, key);
        assert.equal(found.length, 3, found.join("\n"));
        assert.match(found.join("\n"), /rollout\.maxUnavailable: must be an integer from 1/);
        assert.match(found.join("\n"), /rollout\.healthTimeoutSeconds: must be an integer/);
        assert.match(found.join("\n"), /rollout\.maxUnavailible: unknown key \(did you mean rollout\.maxUnavailable\?\)/);
    });
});
