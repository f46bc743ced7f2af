import type { InferenceService } from "@quandex/engine";
import type { AdmissionHooks } from "../../AdmissionHooks.js";
import type { Lifecycle } from "../../Lifecycle.js";

export interface OpenAIRouteDeps {
    service: InferenceService;
    lifecycle: Lifecycle;
    /** The same auth-side hooks as `/v1/generate`: daily quota at admission, usage at the end. */
    hooks: AdmissionHooks;
    keepAliveMs: number;
}
