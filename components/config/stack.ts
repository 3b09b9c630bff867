// Checks over the whole stack config: what one section cannot judge alone (the rollout's settings
// against the inventory's nodes and pools) and the host keys, read by readStackConfig once every
// section parsed. Each problem names its key.
import * as net from "net";
import { hostKeyProblems, InventorySettings } from "./inventory";
import { RolloutSettings } from "./rollout";

/** Every problem of the sections together, in the order: host keys, probe sources, maxUnavailable. */
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
 * maxUnavailable against the agent pools: agents restart in batches of maxUnavailable (in pool
 * order), so a batch can hold every agent of a pool no bigger than it. Refused when it is not less
 * than the agents of a pool that has more than one; a pool of one agent is down while that agent
 * restarts whatever the value.
 */
function maxUnavailableProblems(inventory: InventorySettings, rollout: RolloutSettings): string[] {
    const sizes = new Map<string, number>();
    for (const n of inventory.nodes) if (n.role === "agent") sizes.set(n.pool, (sizes.get(n.pool) ?? 0) + 1);
    const pools = [...sizes].filter(([, size]) => size > 1).sort(([a], [b]) => a.localeCompare(b));
    const whole = pools.filter(([, size]) => rollout.maxUnavailable >= size);
    if (whole.length === 0) return [];
    const most = Math.min(...pools.map(([, size]) => size)) - 1;
    return [
        `rollout.maxUnavailable: ${rollout.maxUnavailable} could restart every agent of ${whole.map(([pool, size]) => `pool ${pool} (${size} agents)`).join(", ")} at once; ` +
            `it must be less than the agents of each pool that has more than one: at most ${most}`,
    ];
}
