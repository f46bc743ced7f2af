import { type LlamaText, SpecialToken, resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token } from "node-llama-cpp";
import type { ChatMessage, RenderedChat } from "../Engine.js";
import type { Logger } from "../Logger.js";

/**
 * A model's own chat template, through node-llama-cpp's chat wrappers: `resolveChatWrapper` picks a
 * built-in wrapper that renders the GGUF's `tokenizer.chat_template` identically, or runs the Jinja
 * template itself (`JinjaTemplateChatWrapper`). A model without a template gets none here, and the
 * runner falls back to the plain template.
 */
export class ChatTemplate {
    private constructor(
        private readonly model: LlamaModel,
        private readonly wrapper: ChatWrapper | undefined
    ) {}

    static forModel(model: LlamaModel, logger: Logger, id: string): ChatTemplate {
        const template = model.fileInfo.metadata.tokenizer?.chat_template;
        if (typeof template !== "string" || template.trim() === "") return new ChatTemplate(model, undefined);
        const wrapper = resolveChatWrapper(model, { warningLogs: false });
        logger.info({ model: id, chatWrapper: wrapper.wrapperName }, "chat template resolved");
        return new ChatTemplate(model, wrapper);
    }

    get usesModelTemplate(): boolean {
        return this.wrapper !== undefined;
    }

    render(messages: readonly ChatMessage[]): RenderedChat {
        if (!this.wrapper) throw new Error("this model has no chat template");
        const history: ChatHistoryItem[] = messages.map((m) => (m.role === "assistant" ? { type: "model", response: [m.content] } : { type: m.role, text: m.content }));
        // An empty model turn at the end renders the prompt the assistant's reply continues from.
        history.push({ type: "model", response: [] });
        const state = this.wrapper.generateContextState({ chatHistory: history });
        let tokens: number[] = state.contextText.tokenize(this.model.tokenizer);
        // Special tokens written out as the model's vocabulary spells them (`<s>`, not node-llama-cpp's `BOS`).
        let text = state.contextText.values
            .map((value) => (value instanceof SpecialToken ? this.model.detokenize(value.tokenize(this.model.tokenizer), true) : value.toString()))
            .join("");
        const bos = this.model.tokens.bos;
        // Templates that do not write the BOS themselves still need it when the model expects one (as llama.cpp does).
        if (this.model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) {
            tokens = [bos, ...tokens];
            text = (this.model.tokens.bosString ?? "") + text;
        }
        const stop: string[] = [];
        const stopTokens: number[] = [];
        for (const trigger of state.stopGenerationTriggers) {
            const single = this.specialToken(trigger);
            if (single !== undefined) stopTokens.push(single);
            else if (!trigger.values.some((v) => v instanceof SpecialToken)) stop.push(trigger.toString());
        }
        return { promptTokens: tokens, text, stop: [...new Set(stop.filter((s) => s !== ""))], stopTokens: [...new Set(stopTokens)], template: this.wrapper.wrapperName };
    }

    /** The token id when the trigger is one special token (EOS, `<|im_end|>`…), which never shows up in decoded text. */
    private specialToken(trigger: LlamaText): Token | undefined {
        const tokens = trigger.tokenize(this.model.tokenizer);
        return tokens.length === 1 && this.model.isSpecialToken(tokens[0]) ? tokens[0] : undefined;
    }
}
