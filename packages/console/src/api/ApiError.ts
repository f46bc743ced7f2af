/**
 * An error the console shows: the catalogue's `code` and `message` from the server's error body, or
 * `network_error` when no answer came at all, so a page never goes blank on a failed call.
 */
export class ApiError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string
    ) {
        super(message);
        this.name = "ApiError";
    }

    static from(error: unknown): ApiError {
        if (error instanceof ApiError) return error;
        if (error instanceof DOMException && error.name === "AbortError") return new ApiError(0, "aborted", "The request was stopped.");
        return new ApiError(0, "network_error", error instanceof Error ? error.message : String(error));
    }
}
