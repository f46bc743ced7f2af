import type { InferenceService } from "@quandex/engine";
import type { AdmissionHooks } from "../http/access/AdmissionHooks.js";
import type { Lifecycle } from "../http/Lifecycle.js";

/** What the one request path needs, shared by every dialect's routes. */
export interface InferenceDeps {
    service: InferenceService;
    /** The daily quota at admission and usage at the end (`LimitsGate`), for routes whose policy counts them. */
    quota: AdmissionHooks;
    lifecycle: Lifecycle;
    /** Interval of stream keep-alive frames, in ms. */
    keepAliveMs: number;
    /** Who may reuse an evaluated prompt prefix (`server.prompt_cache`). Defaults to `per_key`. */
    promptCache?: "per_key" | "shared" | "off";
    /** Whether the request log line carries prompts and outputs (`server.log_prompts`). Defaults to false. */
    logPrompts?: boolean;
}
