/**
 * The slice of a pino/Fastify logger the limits module writes to; `app.log` satisfies it. It only
 * logs state changes (backend lost, backend back), never per request, so an outage cannot flood
 * the log.
 */
export interface LimitsLogger {
    warn(details: object, message: string): void;
    info(details: object, message: string): void;
}

/** Used when no logger is passed, so a fail-open admission is never silent. */
export const consoleLimitsLogger: LimitsLogger = {
    warn: (details, message) => console.warn(`[quandex limits] ${message}`, details),
    info: (details, message) => console.info(`[quandex limits] ${message}`, details)
};
