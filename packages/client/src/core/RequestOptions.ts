/** Options every call accepts, after its parameters. */
export interface RequestOptions {
    /** Aborts the call (and closes a stream); the call then throws APIUserAbortError. */
    signal?: AbortSignal;
    /** Milliseconds before one attempt gives up, for this call. Defaults to the client's `timeout`. */
    timeout?: number;
    /** Retries for this call. Defaults to the client's `maxRetries`. */
    maxRetries?: number;
}
