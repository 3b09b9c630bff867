// Checks over the whole stack config: what one section cannot judge alone (the rollout's settings
// against the inventory's nodes and pools) and the host keys, read by readStackConfig once every
// section parsed. Each problem names its key.
import * as net from "net";
import { hostKeyProblems, InventorySettings } from "./inventory";
import { RolloutSettings } from "./rollout";

/** Every problem of the sections together, in the order: host keys, probe sources, maxUnavailable (then per pool). */
export function stackProblems(inventory: InventorySettings, rollout: RolloutSettings): string[] {
    return [...hostKeyProblems(inventory), ...probeSourceProblems(inventory, rollout), ...maxUnavailableProblems(inventory, rollout)];
}

/**
 * Probe sources that are a node's address or the jumpbox's host: draining a master refuses new
 * connections to its apiserver from every probe source, so it would refuse that peer or the operator.
 */
function probeSourceProblems(inventory: InventorySettings, rollout: RolloutSettings): string[] {
    const owners = new Map<string, string>();
    const jumpbox = inventory.jumpbox;
    if (jumpbox && net.isIP(jumpbox.host)) owners.set(jumpbox.host, "the jumpbox's host (jumpbox.host): draining a master would refuse the operator's connections from it to the master's apiserver");
    inventory.nodes.forEach((n, i) => owners.set(n.ip, `the address of node ${n.name} (nodes[${i}].ip): draining a master would refuse that node's connections to the master's apiserver`));
    return rollout.loadBalancerProbeSources.flatMap((source, i) => {
        const owner = owners.get(source);
        return owner ? [`rollout.loadBalancerProbeSources[${i}]: ${source} is ${owner}; list only where the load balancer's health probes come from`] : [];
    });
}

/**
 * maxUnavailable and maxUnavailablePerPool against the agent pools: each pool's agents restart in
 * batches of its limit (maxUnavailablePerPool's value for the pool, else maxUnavailable), so a
 * batch can hold every agent of a pool no bigger than its limit. Refused when a limit is not less
 * than the agents of its pool, if that has more than one (a pool of one agent is down while that
 * agent restarts whatever the value), and a pool maxUnavailablePerPool names that has no agent.
 */
function maxUnavailableProblems(inventory: InventorySettings, rollout: RolloutSettings): string[] {
    const sizes = new Map<string, number>();
    for (const n of inventory.nodes) if (n.role === "agent") sizes.set(n.pool, (sizes.get(n.pool) ?? 0) + 1);
    const perPool = rollout.maxUnavailablePerPool ?? {};
    const named = Object.keys(perPool);
    const known = [...sizes.keys()].sort((a, b) => a.localeCompare(b));
    // The pools the integer sets: those maxUnavailablePerPool does not name.
    const pools = [...sizes].filter(([pool, size]) => size > 1 && !named.includes(pool)).sort(([a], [b]) => a.localeCompare(b));
    const whole = pools.filter(([, size]) => rollout.maxUnavailable >= size);
    const problems: string[] = [];
    if (whole.length > 0) {
        const most = Math.min(...pools.map(([, size]) => size)) - 1;
        problems.push(
            `rollout.maxUnavailable: ${rollout.maxUnavailable} could restart every agent of ${whole.map(([pool, size]) => `pool ${pool} (${size} agents)`).join(", ")} at once; ` +
                `it must be less than the agents of each pool that has more than one${named.length > 0 ? " (of those rollout.maxUnavailablePerPool does not name)" : ""}: at most ${most}`,
        );
    }
    for (const [pool, limit] of Object.entries(perPool)) {
        const size = sizes.get(pool);
        if (size === undefined) {
            problems.push(`rollout.maxUnavailablePerPool.${pool}: no agent pool ${pool} in the inventory; ${known.length > 0 ? `its agent pools: ${known.join(", ")}` : "it has no agents"}`);
        } else if (size > 1 && limit >= size) {
            problems.push(`rollout.maxUnavailablePerPool.${pool}: ${limit} could restart every agent of pool ${pool} (${size} agents) at once; it must be less than the pool's agents: at most ${size - 1}`);
        }
    }
    return problems;
}
