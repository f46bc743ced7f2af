import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { allowedSkip } from "@quandex/test-support";

// deploy/: the compose file as Compose itself reads it, and the Kubernetes example's readiness.
// (Their topology, two replicas + Redis + nginx with deploy/nginx/quandex.conf, runs for real in
// replicas.test.ts without Docker.)
const deploy = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../deploy");

/** `docker compose` (the plugin) or `docker-compose` (Debian's package), whichever is installed. */
function composeCommand(): string[] | null {
    if (spawnSync("docker", ["compose", "version"], { stdio: "ignore" }).status === 0) return ["docker", "compose"];
    if (spawnSync("docker-compose", ["version"], { stdio: "ignore" }).status === 0) return ["docker-compose"];
    return null;
}

describe("deploy/", () => {
    it("docker-compose.yml is valid Compose: two replicas on one Redis behind nginx, each waiting for readiness", (t) => {
        const compose = composeCommand();
        if (!compose) return t.skip(allowedSkip("neither `docker compose` nor `docker-compose` is installed (scripts/setup.sh installs docker-compose)"));
        const run = spawnSync(compose[0]!, [...compose.slice(1), "-f", path.join(deploy, "docker-compose.yml"), "config"], { encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        const resolved = parse(run.stdout) as {
            services: Record<
                string,
                { environment?: Record<string, string>; depends_on?: Record<string, { condition: string }>; healthcheck?: { test: string[] }; volumes?: unknown[] }
            >;
        };
        assert.deepEqual(Object.keys(resolved.services).sort(), ["nginx", "quandex-1", "quandex-2", "redis"]);
        for (const name of ["quandex-1", "quandex-2"]) {
            const service = resolved.services[name]!;
            assert.equal(service.environment?.QUANDEX_REDIS_URL, "redis://redis:6379");
            assert.match(service.healthcheck!.test.join(" "), /\/health/);
            assert.equal(service.depends_on?.redis?.condition, "service_healthy");
        }
        assert.deepEqual(Object.keys(resolved.services.nginx!.depends_on!).sort(), ["quandex-1", "quandex-2"]);
    });

    it("nginx's config turns buffering off and keeps streams open", () => {
        const conf = readFileSync(path.join(deploy, "nginx", "quandex.conf"), "utf8");
        assert.match(conf, /proxy_buffering off;/);
        assert.match(conf, /proxy_read_timeout 3600s;/);
        assert.match(conf, /proxy_http_version 1\.1;/);
    });

    it("the Kubernetes example runs two replicas that are ready on /health", () => {
        const docs = parseAllDocuments(readFileSync(path.join(deploy, "kubernetes", "quandex.yaml"), "utf8")).map(
            (d) => d.toJSON() as { kind: string; metadata: { name: string }; spec: Record<string, unknown> }
        );
        const deployment = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "quandex")!;
        assert.equal(deployment.spec.replicas, 2);
        const container = (
            deployment.spec as { template: { spec: { containers: Array<{ readinessProbe: { httpGet: { path: string } }; env: Array<{ name: string; value?: string }> }> } } }
        ).template.spec.containers[0]!;
        assert.equal(container.readinessProbe.httpGet.path, "/health");
        assert.ok(container.env.some((e) => e.name === "QUANDEX_REDIS_URL"));
        assert.ok(docs.some((d) => d.kind === "Service" && d.metadata.name === "quandex"));
    });
});
