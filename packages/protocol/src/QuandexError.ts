import { errorCatalogue, formatErrorMessage, type ErrorCode, type ErrorType } from "./errorCatalogue.js";

export interface QuandexErrorOptions {
    /** The request field at fault, reported as `param`. Defaults to `null`. */
    param?: string | null;
    /** Seconds the client should wait before retrying; becomes the `Retry-After` header. */
    retryAfter?: number;
    /** An explicit message that replaces the catalogue template. */
    message?: string;
    cause?: unknown;
}

/**
 * The one error type raised by every layer (engine, scheduler, server). It carries a catalogue
 * code, never an HTTP status of its own: the server derives the status from the catalogue, which
 * keeps the engine free of HTTP while errors still map 1:1 to responses.
 */
export class QuandexError extends Error {
    readonly code: ErrorCode;
    readonly param: string | null;
    readonly retryAfter: number | undefined;

    constructor(code: ErrorCode, params: Readonly<Record<string, string | number>> = {}, options: QuandexErrorOptions = {}) {
        super(options.message ?? formatErrorMessage(code, params), options.cause === undefined ? undefined : { cause: options.cause });
        this.name = "QuandexError";
        this.code = code;
        this.param = options.param ?? null;
        this.retryAfter = options.retryAfter;
    }

    get status(): number {
        return errorCatalogue[this.code].status;
    }

    get type(): ErrorType {
        return errorCatalogue[this.code].type;
    }

    toBody(): ErrorBody {
        return { error: { code: this.code, message: this.message, type: this.type, param: this.param } };
    }
}

export interface ErrorBody {
    error: { code: string; message: string; type: string; param: string | null };
}
