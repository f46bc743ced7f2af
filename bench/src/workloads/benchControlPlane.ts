import { runControlPlaneBench, type ControlPlaneResult } from "../controlPlaneBench.js";
import type { QuandexServer } from "../process/quandexServer.js";
import type { BenchContext } from "./BenchContext.js";

/**
 * The control plane: autocannon on the server's authenticated `GET /v1/models` and on a
 * hello-world Fastify app, with the same settings, `--rounds` times in turn. The run measures it
 * once, against the first model's server, idle after its levels.
 */
export async function benchControlPlane(context: BenchContext, server: QuandexServer): Promise<ControlPlaneResult> {
    const { options, problems, log } = context;
    log("control plane: autocannon on GET /v1/models and on a hello-world Fastify");
    const result = await runControlPlaneBench({
        baseUrl: server.baseUrl,
        apiKey: server.apiKey,
        connections: options.autocannonConnections,
        durationS: options.autocannonDurationS,
        warmupS: options.smoke ? 0 : 1,
        rounds: options.rounds
    });
    log(
        `control plane: /v1/models ${result.models.requestsPerSec.toFixed(0)} req/s, hello-world ` +
            `${result.helloWorld.requestsPerSec.toFixed(0)} req/s (medians), ratio ${(result.ratio * 100).toFixed(1)}% ` +
            `(rounds: ${(result.roundRatios ?? []).map((r) => `${(r * 100).toFixed(1)}%`).join(", ")})`
    );
    problems.push(...controlPlaneProblems(result));
    return result;
}

function controlPlaneProblems(result: ControlPlaneResult): string[] {
    return [result.models, ...(result.modelsUnlimitedKey ? [result.modelsUnlimitedKey] : []), result.helloWorld].flatMap((target) =>
        target.totalRequests === 0 || target.non2xx > 0 || target.errors > 0
            ? [`autocannon on ${target.url}: ${target.totalRequests} requests, ${target.non2xx} non-2xx, ${target.errors} errors`]
            : []
    );
}
