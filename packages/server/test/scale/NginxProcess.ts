import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./LlamaServerChild.js";

const deployConf = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../deploy/nginx/quandex.conf");

/**
 * Debian's nginx running `deploy/nginx/quandex.conf`, the file the compose setup mounts, with its
 * upstream servers replaced by the given replicas and its port by a free loopback one.
 */
export class NginxProcess {
    private constructor(
        private readonly child: ChildProcess,
        readonly url: string,
        private readonly output: () => string
    ) {}

    static binary(): string | null {
        for (const candidate of ["/usr/sbin/nginx", "nginx"]) {
            if (spawnSync(candidate, ["-v"], { stdio: "ignore" }).status === 0) return candidate;
        }
        return null;
    }

    static async start(binary: string, replicas: readonly string[]): Promise<NginxProcess> {
        const dir = mkdtempSync(path.join(os.tmpdir(), "qdx-nginx-"));
        const port = await freePort();
        let conf = readFileSync(deployConf, "utf8");
        const servers = replicas.map((r) => `        server ${new URL(r).host} max_fails=1 fail_timeout=5s;`).join("\n");
        conf = conf.replace(/(\s*server quandex-\d:8080[^\n]*\n)+/, `\n${servers}\n`);
        conf = conf.replace("listen 8080;", `listen 127.0.0.1:${port};`);
        // Temp files in the test's dir, so it needs nothing of /var/lib/nginx.
        conf = conf.replace(
            "access_log off;",
            ["access_log off;", ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `${t}_temp_path ${path.join(dir, t)};`)].join("\n    ")
        );
        const file = path.join(dir, "nginx.conf");
        writeFileSync(file, conf);
        let out = "";
        const child = spawn(binary, ["-p", dir, "-e", path.join(dir, "error.log"), "-c", file, "-g", `daemon off; pid ${path.join(dir, "nginx.pid")};`], {
            stdio: ["ignore", "pipe", "pipe"]
        });
        child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
        process.once("exit", () => child.kill("SIGKILL"));
        const url = `http://127.0.0.1:${port}`;
        for (let i = 0; i < 100; i++) {
            if (child.exitCode !== null) throw new Error(`nginx exited: ${out}\n${readFileSync(path.join(dir, "error.log"), "utf8")}`);
            if (
                await fetch(`${url}/health`).then(
                    () => true,
                    () => false
                )
            )
                return new NginxProcess(child, url, () => out);
            await sleep(100);
        }
        throw new Error(`nginx did not answer within 10 s: ${out}`);
    }

    log(): string {
        return this.output();
    }

    async stop(): Promise<void> {
        if (this.child.exitCode !== null) return;
        const gone = new Promise((resolve) => this.child.once("exit", resolve));
        this.child.kill("SIGTERM");
        await gone;
    }
}
