import type { ChatTransport, UIMessage, UIMessageChunk } from "ai";
import { isActive, newId, type Entry, type Run, type Session, type Subscription, type TetherClient, type ToolCall } from "@tether/client";

export interface TetherChatTransportOptions {
  client: TetherClient;
  /** The session a chat id maps to. Default: the chat id is the session id. */
  sessionId?: (chatId: string) => string;
}

type Snapshot = Awaited<ReturnType<Session["snapshot"]>>;

/** How long opening the session subscription may take before sendMessages fails. */
const OPEN_TIMEOUT_MS = 15_000;

const FINISHED: Record<string, "stop" | "other" | "error"> = {
  completed: "stop",
  cancelled: "other",
  incomplete: "other",
  failed: "error",
};

/**
 * A Vercel AI SDK `ChatTransport` over a Tether session. `sendMessages` posts the last user
 * message to the session and streams the run it starts as UI message chunks. The stream survives
 * network drops on its own: the session subscription under it resumes by offset, so the UI gets
 * every piece of text once. `reconnectToStream` (a page load, `resumeStream()`) resumes the
 * session's active run by offset: the run's text so far as one delta from the session snapshot,
 * then the live chunks from the snapshot's offset — nothing streamed twice, nothing missed.
 *
 * Aborting a stream (useChat's `stop()`, an unmount, a closed tab) only detaches the reader: the
 * run goes on, as every device of the session sees it. {@link stop} cancels the run.
 */
export class TetherChatTransport<M extends UIMessage = UIMessage> implements ChatTransport<M> {
  /** A resumed stream carries the run's whole text (so far, then live): the UI starts that message afresh. */
  readonly resumeStreamIsReplay = true;
  /** The run each chat is streaming, for {@link stop}. */
  private readonly active = new Map<string, string>();
  /** The snapshot {@link initialMessages} took, kept for the chat's next reconnectToStream. */
  private readonly loaded = new Map<string, Snapshot>();
  private readonly client: TetherClient;
  private readonly sessionOf: (chatId: string) => string;

  constructor(options: TetherChatTransportOptions) {
    this.client = options.client;
    this.sessionOf = options.sessionId ?? ((chatId) => chatId);
  }

  async sendMessages(options: Parameters<ChatTransport<M>["sendMessages"]>[0]): Promise<ReadableStream<UIMessageChunk>> {
    const last = options.messages[options.messages.length - 1];
    if (!last || last.role !== "user") throw new Error("the last message must be the user's");
    const text = last.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
    const session = this.client.session(this.sessionOf(options.chatId));
    // Follow from the tail first, so nothing the run writes can come before the reader.
    const reader = await RunReader.open(session, "now", options.abortSignal);
    try {
      // The UI message id is the session message id (a retry is not a second message); a
      // regeneration is a new message.
      const id = options.trigger === "regenerate-message" ? newId("msg") : last.id;
      const { run } = await session.send(text, { id });
      if (!run) {
        reader.close();
        return finishedStream([]);
      }
      if (!isActive(run)) {
        // the message was sent before (a retry after a lost reply): its run has already ended
        reader.close();
        return finishedStream(endedRun(run), run.id);
      }
      this.active.set(options.chatId, run.id);
      return reader.stream(run.id, [], () => this.active.delete(options.chatId));
    } catch (error) {
      reader.close();
      throw error;
    }
  }

  /**
   * The chat's messages so far, for useChat's `messages`: the session's messages and its ended
   * runs. The chat's next `reconnectToStream` resumes from the same snapshot, so a run that was
   * active here and ends before the resume still shows, once and whole.
   */
  async initialMessages(chatId: string): Promise<M[]> {
    const snapshot = await this.client.session(this.sessionOf(chatId)).snapshot();
    this.loaded.set(chatId, snapshot);
    const out: UIMessage[] = [];
    for (const e of snapshot.entries as Entry[]) {
      if (e.type === "message" && e.value) {
        out.push({ id: e.value.id, role: e.value.role === "user" ? "user" : "assistant", parts: [{ type: "text", text: e.value.content }] });
      } else if (e.type === "run" && e.value && !isActive(e.value)) {
        out.push({ id: e.value.id, role: "assistant", parts: [{ type: "text", text: e.value.text ?? "" }] });
      }
    }
    return out as M[];
  }

  async reconnectToStream(
    options: Parameters<ChatTransport<M>["reconnectToStream"]>[0],
  ): Promise<ReadableStream<UIMessageChunk> | null> {
    const session = this.client.session(this.sessionOf(options.chatId));
    // The snapshot holds the active run's chunks so far and the offset to continue from: the one
    // initialMessages took (once), else a new one.
    const { entries, offset } = this.loaded.get(options.chatId) ?? (await session.snapshot());
    this.loaded.delete(options.chatId);
    const rows = entries as Entry[];
    const run = rows.map((e) => (e.type === "run" ? (e.value as Run) : null)).find((r): r is Run => r !== null && isActive(r));
    if (!run) return null;
    // its text so far, and its tool calls, as the first chunks
    const seen = new Map<string, string>();
    const head: UIMessageChunk[] = [];
    const sofar = rows
      .filter((e) => e.type === "chunk" && e.value && (e.value as { run_id: string }).run_id === run.id)
      .map((e) => e.value as { seq: number; delta: string })
      .sort((a, b) => a.seq - b.seq)
      .map((c) => c.delta)
      .join("");
    if (sofar) head.push({ type: "text-start", id: `${run.id}:0` }, { type: "text-delta", id: `${run.id}:0`, delta: sofar }, { type: "text-end", id: `${run.id}:0` });
    for (const e of rows) if (e.type === "tool_call" && e.value && e.value.run_id === run.id) head.push(...toolChunks(e.value, seen));
    const reader = await RunReader.open(session, offset, options.abortSignal);
    this.active.set(options.chatId, run.id);
    return reader.stream(run.id, head, () => this.active.delete(options.chatId), seen);
  }

  /** Cancels the chat's active run (what a Stop button means); the stream then ends. */
  async stop(chatId: string): Promise<void> {
    const session = this.client.session(this.sessionOf(chatId));
    const known = this.active.get(chatId);
    if (known && (await session.cancel(known).then(() => true, () => false))) return;
    // not streaming here, or that run has ended: cancel whatever is active in the session
    const runs = (await session.view()).runs.filter(isActive).map((r) => r.id);
    await Promise.all(runs.map((id) => session.cancel(id).catch(() => undefined)));
  }
}

/**
 * One session subscription turned into one run's UI message chunks. The stream is pull-based
 * (high-water mark 0): an entry becomes chunks only when the UI reads.
 */
class RunReader {
  private readonly entries: Entry[] = [];
  private wake: (() => void) | undefined;
  private failure: unknown;

  private constructor(private readonly subscription: Subscription) {}

  static open(session: Session, offset: string, signal: AbortSignal | undefined): Promise<RunReader> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new DOMException("aborted", "AbortError"));
    return new Promise((resolve, reject) => {
      let reader: RunReader;
      const timer = setTimeout(() => {
        reader.close(new Error(`could not reach the session within ${OPEN_TIMEOUT_MS} ms`));
      }, OPEN_TIMEOUT_MS);
      const subscription = session.subscribe({
        offset,
        heartbeatMs: 0,
        onEntry: (entry) => {
          reader.entries.push(entry);
          reader.wake?.();
        },
        onStatus: (status, info) => {
          if (status === "open") {
            clearTimeout(timer);
            resolve(reader);
          }
          if (status === "closed") {
            clearTimeout(timer);
            reader.failure = info.error ?? new Error("the session subscription closed");
            reader.wake?.();
            reject(reader.failure);
          }
        },
      });
      reader = new RunReader(subscription);
      signal?.addEventListener("abort", () => subscription.close(), { once: true });
    });
  }

  close(error?: unknown): void {
    this.subscription.close(error);
  }

  /**
   * The run's chunks as UI chunks after `first` (what a resumed run already had); `ended` runs
   * once the stream is over (the run ended, the reader cancelled or failed). Text between tool
   * calls gets a text part of its own, so it shows after them.
   */
  stream(runId: string, first: UIMessageChunk[], ended: () => void, tools = new Map<string, string>()): ReadableStream<UIMessageChunk> {
    const head: UIMessageChunk[] = [{ type: "start", messageId: runId }, ...first];
    let part = 0;
    let text: string | undefined; // the open text part
    const closeText = (): UIMessageChunk[] => {
      const out: UIMessageChunk[] = text ? [{ type: "text-end", id: text }] : [];
      text = undefined;
      return out;
    };
    const chunksOf = (entry: Entry): { chunks: UIMessageChunk[]; last: boolean } => {
      if (entry.type === "chunk" && entry.value?.run_id === runId) {
        const out: UIMessageChunk[] = [];
        if (!text) out.push({ type: "text-start", id: (text = `${runId}:${this.subscription.offset}:${part++}`) });
        out.push({ type: "text-delta", id: text, delta: entry.value.delta });
        return { chunks: out, last: false };
      }
      if (entry.type === "tool_call" && entry.value?.run_id === runId) {
        const tool = toolChunks(entry.value, tools);
        return { chunks: tool.length ? [...closeText(), ...tool] : [], last: false };
      }
      if (entry.type === "run" && entry.key === runId && entry.value && !isActive(entry.value)) {
        return { chunks: [...closeText(), ...endedRun(entry.value).filter((c) => c.type !== "text-start" && c.type !== "text-delta" && c.type !== "text-end")], last: true };
      }
      return { chunks: [], last: false };
    };
    let over = false;
    const finish = () => {
      if (over) return;
      over = true;
      ended();
      this.close();
    };
    return new ReadableStream<UIMessageChunk>(
      {
        pull: async (controller) => {
          if (head.length) {
            head.splice(0).forEach((c) => controller.enqueue(c));
            return;
          }
          for (;;) {
            while (this.entries.length === 0) {
              if (this.failure) {
                finish();
                throw this.failure;
              }
              await new Promise<void>((resolve) => (this.wake = resolve));
            }
            const { chunks, last } = chunksOf(this.entries.shift()!);
            chunks.forEach((c) => controller.enqueue(c));
            if (last) {
              controller.close();
              finish();
              return;
            }
            if (chunks.length) return;
          }
        },
        cancel: finish,
      },
      { highWaterMark: 0 },
    );
  }
}

/** A tool call's changes as UI chunks: its input once, then its output or denial. */
function toolChunks(call: ToolCall, seen: Map<string, string>): UIMessageChunk[] {
  const out: UIMessageChunk[] = [];
  const was = seen.get(call.id);
  if (was === undefined) {
    let input: unknown = call.arguments;
    try {
      input = JSON.parse(call.arguments);
    } catch {
      // not JSON: show it as it is
    }
    // providerExecuted: the session's tool executor runs it, never the page (useChat must not call onToolCall)
    out.push({ type: "tool-input-available", toolCallId: call.id, toolName: call.name, input, dynamic: true, providerExecuted: true });
  }
  if (call.status !== was) {
    if (call.status === "completed") {
      out.push({ type: "tool-output-available", toolCallId: call.id, output: call.output, dynamic: true, providerExecuted: true });
    }
    if (call.status === "denied") out.push({ type: "tool-output-denied", toolCallId: call.id });
  }
  seen.set(call.id, call.status);
  return out;
}

/** The chunks of a run that has already ended: its whole text, then how it finished. */
function endedRun(run: Run): UIMessageChunk[] {
  const id = `${run.id}:text`;
  const text: UIMessageChunk[] = run.text ? [{ type: "text-start", id }, { type: "text-delta", id, delta: run.text }, { type: "text-end", id }] : [];
  const end: UIMessageChunk =
    run.status === "failed" ? { type: "error", errorText: run.error?.message ?? "the run failed" } : { type: "finish", finishReason: FINISHED[run.status] ?? "other" };
  return [...text, end];
}

/** A stream that is over before it starts: `start`, the chunks given (with `finish` when none ends it). */
function finishedStream(chunks: UIMessageChunk[], messageId?: string): ReadableStream<UIMessageChunk> {
  const all: UIMessageChunk[] = [{ type: "start", ...(messageId ? { messageId } : {}) }, ...chunks];
  if (!chunks.some((c) => c.type === "finish" || c.type === "error")) all.push({ type: "finish", finishReason: "stop" });
  return new ReadableStream({
    start(controller) {
      all.forEach((c) => controller.enqueue(c));
      controller.close();
    },
  });
}
