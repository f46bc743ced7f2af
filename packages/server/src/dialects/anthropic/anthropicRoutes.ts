import type { FastifyInstance } from "fastify";
import { CountTokensRequestSchema, CountTokensSchema, MessageSchema, MessagesRequestSchema, type CountTokensRequest } from "@quandex/protocol";
import type { AccessGuard } from "../../http/access/AccessGuard.js";
import { policies } from "../../http/access/RoutePolicy.js";
import type { ErrorShapes } from "../../http/ErrorShapes.js";
import { errorResponses } from "../../http/routes/errorResponses.js";
import type { InferenceDeps } from "../../inference/InferenceDeps.js";
import { generationRoute } from "../../inference/inferenceRoutes.js";
import { anthropicError } from "./anthropicError.js";
import { conversationFromAnthropic } from "./conversationFromAnthropic.js";
import { messagesDialect } from "./messagesDialect.js";

/**
 * The Anthropic dialect: `POST /v1/messages` on the one request path (same keys, scopes, limits,
 * queue, usage and stats as every route; the key may come as `x-api-key`), and
 * `POST /v1/messages/count_tokens`, which renders the prompt without running it (no quota).
 * Errors on these routes use Anthropic's shape. See docs/anthropic.md.
 */
export function anthropicRoutes(app: FastifyInstance, access: AccessGuard, deps: InferenceDeps, errorShapes: ErrorShapes): void {
    errorShapes.add(["/v1/messages", "/v1/messages/"], anthropicError);
    const tags = ["anthropic"];
    generationRoute(app, access, deps, {
        url: "/v1/messages",
        summary: "Anthropic-compatible Messages API",
        description:
            "With `stream: true` the answer is Anthropic's event stream: message_start, content_block_start/delta/stop per block, message_delta, message_stop, and ping. See docs/anthropic.md.",
        tags,
        body: MessagesRequestSchema,
        response: MessageSchema,
        dialect: messagesDialect
    });
    app.post<{ Body: CountTokensRequest }>(
        "/v1/messages/count_tokens",
        {
            onRequest: access.guard(policies.warmUp),
            schema: { summary: "Count a Messages request's prompt tokens", tags, body: CountTokensRequestSchema, response: { 200: CountTokensSchema, ...errorResponses } }
        },
        async (request) => {
            const { messages, tools, toolChoice } = conversationFromAnthropic(request.body);
            const tokens = await deps.service.countChatTokens({ model: request.body.model, messages, ...(tools && { tools }), ...(toolChoice !== undefined && { toolChoice }) });
            return { input_tokens: tokens };
        }
    );
}
