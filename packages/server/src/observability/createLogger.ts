import pino, { type Logger } from "pino";
import pretty from "pino-pretty";

export interface LoggerOptions {
    level: string;
    format: "auto" | "pretty" | "json";
    /** Where lines go; defaults to stdout. */
    destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** `auto` is `pretty` on a terminal (a person reads it) and `json` otherwise (a collector reads it). */
export function resolveLogFormat(format: LoggerOptions["format"], destination: { isTTY?: boolean } = process.stdout): "pretty" | "json" {
    if (format !== "auto") return format;
    return destination.isTTY === true ? "pretty" : "json";
}

/**
 * The server's pino logger. JSON is pino's own output (one object a line). Pretty is pino-pretty
 * as a stream in this thread rather than as a worker transport: it is for a person at a terminal,
 * not for throughput, and a stream flushes with the process, so the last lines before an exit are
 * never lost in a worker's buffer.
 */
export function createLogger(options: LoggerOptions): Logger {
    const destination = options.destination ?? process.stdout;
    if (resolveLogFormat(options.format, destination) === "json") {
        return options.destination ? pino({ level: options.level }, options.destination) : pino({ level: options.level });
    }
    return pino({ level: options.level }, pretty({ destination, colorize: destination.isTTY === true, sync: true, ignore: "pid,hostname", translateTime: "SYS:HH:MM:ss.l" }));
}
