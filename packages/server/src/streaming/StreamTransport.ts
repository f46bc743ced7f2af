import type { QuandexError } from "@quandex/protocol";
import { eventFrame, pingFrame } from "./sseFrames.js";

/** How a dialect's stream travels: its content type, its keep-alive frame and how a late error ends it. */
export interface StreamTransport {
    readonly contentType: string;
    /** Sent every keep-alive interval while nothing else is; `undefined` for formats without comments. */
    readonly ping: string | undefined;
    /** The last frame of a stream that failed after its headers went out. */
    errorFrame(error: QuandexError): string;
}

/** Server-sent events with `: ping` comments and an `event: error` frame: JAN and OpenAI. */
export const sseTransport: StreamTransport = {
    contentType: "text/event-stream; charset=utf-8",
    ping: pingFrame,
    errorFrame: (error) => eventFrame("error", error.toBody())
};
