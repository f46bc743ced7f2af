import cliProgress from "cli-progress";
import type { Command } from "commander";
import { formatBytes, type Pull } from "@quandex/protocol";
import { clientFrom, printJson, runClientAction, withClientOptions, type ClientFlags } from "./clientCommand.js";

interface PullFlags extends ClientFlags {
    as?: string;
}

/**
 * `quandex pull SOURCE [--as ID]`: asks the running server to pull a model into its models dir and
 * shows the progress: a bar (bytes, percent, speed, ETA) on a terminal, a line every few seconds
 * otherwise. Exits non-zero with a one-line reason when the pull fails.
 */
export function register(program: Command): void {
    withClientOptions(
        program
            .command("pull")
            .description("Pull a model into the server's models dir: hf:<owner>/<repo>[:<quant>], hf:<owner>/<repo>/<file.gguf>[#rev], or an https URL")
            .argument("<source>", "where the model comes from")
            .option("--as <id>", "the model id to use instead of the file stem")
    ).action(async (source: string, flags: PullFlags) =>
        runClientAction(
            () => clientFrom(flags),
            async (client) => {
                const view = flags.json ? undefined : process.stderr.isTTY ? new BarView() : new LineView();
                const pull = await client.pullModel(source, { ...(flags.as !== undefined && { id: flags.as }), onProgress: (progress) => view?.update(progress) });
                view?.finish(pull);
                if (flags.json) return printJson(pull);
                const size = pull.total_bytes === null ? "" : ` (${formatBytes(pull.total_bytes)})`;
                process.stdout.write(`${pull.already_present ? "already present" : "pulled"}: ${pull.model}${size}${pull.sha256 ? ` sha256:${pull.sha256}` : ""}\n`);
            }
        )
    );
}

/** The progress bar on a terminal (cli-progress, on stderr so stdout stays the result). */
class BarView {
    private bar: cliProgress.SingleBar | undefined;
    private started = false;

    update(pull: Pull): void {
        if (pull.status !== "downloading" && pull.status !== "verifying") return;
        const total = pull.total_bytes ?? 0;
        if (!this.started) {
            this.bar = new cliProgress.SingleBar(
                {
                    format: `${pull.model} |{bar}| {percentage}% {done}/{size} {speed} ETA {eta_formatted} {status}`,
                    stream: process.stderr,
                    hideCursor: true,
                    clearOnComplete: false,
                    etaBuffer: 20
                },
                cliProgress.Presets.shades_classic
            );
            this.bar.start(Math.max(total, 1), 0, payload(pull));
            this.started = true;
        }
        if (total > 0) this.bar!.setTotal(total);
        this.bar!.update(pull.downloaded_bytes, payload(pull));
    }

    finish(pull: Pull): void {
        if (!this.bar) return;
        this.bar.update(pull.total_bytes ?? pull.downloaded_bytes, payload(pull));
        this.bar.stop();
    }
}

/** Plain lines when stderr is not a terminal (CI logs, pipes): one every 5 s and at each change of status. */
class LineView {
    private printedAt = 0;
    private status = "";

    update(pull: Pull): void {
        const now = Date.now();
        if (pull.status === this.status && now - this.printedAt < 5000) return;
        this.printedAt = now;
        this.status = pull.status;
        const percent = pull.total_bytes ? ` ${((pull.downloaded_bytes / pull.total_bytes) * 100).toFixed(1)}%` : "";
        process.stderr.write(
            `${pull.model}: ${pull.status}${percent} ${formatBytes(pull.downloaded_bytes)}${pull.total_bytes === null ? "" : `/${formatBytes(pull.total_bytes)}`} ${formatBytes(pull.bytes_per_second)}/s\n`
        );
    }

    finish(pull: Pull): void {
        this.status = "";
        this.update(pull);
    }
}

function payload(pull: Pull): Record<string, string> {
    return {
        done: formatBytes(pull.downloaded_bytes),
        size: pull.total_bytes === null ? "?" : formatBytes(pull.total_bytes),
        speed: `${formatBytes(pull.bytes_per_second)}/s`,
        status: pull.status === "verifying" ? "verifying" : ""
    };
}
