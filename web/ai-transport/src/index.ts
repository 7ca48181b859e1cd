import type { ChatTransport, UIMessage, UIMessageChunk } from "ai";
import { isActive, type Entry, type Run, type Session, type Subscription, type TetherClient, type ToolCall } from "@tether/client";

export interface TetherChatTransportOptions {
  client: TetherClient;
  /** The session a chat id maps to. Default: the chat id is the session id. */
  sessionId?: (chatId: string) => string;
}

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
      const { run } = await session.send(text, { id: last.id });
      if (!run) {
        reader.close();
        return finishedStream("stop");
      }
      this.active.set(options.chatId, run.id);
      return reader.stream(run.id, "", () => this.active.delete(options.chatId));
    } catch (error) {
      reader.close();
      throw error;
    }
  }

  async reconnectToStream(
    options: Parameters<ChatTransport<M>["reconnectToStream"]>[0],
  ): Promise<ReadableStream<UIMessageChunk> | null> {
    const session = this.client.session(this.sessionOf(options.chatId));
    // The snapshot holds the active run's chunks so far and the offset to continue from.
    const { entries, offset } = await session.snapshot();
    const rows = entries as Entry[];
    const run = rows.map((e) => (e.type === "run" ? (e.value as Run) : null)).find((r): r is Run => r !== null && isActive(r));
    if (!run) return null;
    const sofar = rows
      .filter((e) => e.type === "chunk" && e.value && (e.value as { run_id: string }).run_id === run.id)
      .map((e) => e.value as { seq: number; delta: string })
      .sort((a, b) => a.seq - b.seq)
      .map((c) => c.delta)
      .join("");
    const reader = await RunReader.open(session, offset, options.abortSignal);
    this.active.set(options.chatId, run.id);
    return reader.stream(run.id, sofar, () => this.active.delete(options.chatId));
  }

  /** Cancels the chat's active run (what a Stop button means); the stream then ends. */
  async stop(chatId: string): Promise<void> {
    const session = this.client.session(this.sessionOf(chatId));
    const known = this.active.get(chatId);
    const runs = known ? [known] : (await session.view()).runs.filter(isActive).map((r) => r.id);
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
    return new Promise((resolve, reject) => {
      let reader: RunReader;
      const subscription = session.subscribe({
        offset,
        heartbeatMs: 0,
        onEntry: (entry) => {
          reader.entries.push(entry);
          reader.wake?.();
        },
        onStatus: (status, info) => {
          if (status === "open") resolve(reader);
          if (status === "closed") {
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

  close(): void {
    this.subscription.close();
  }

  /** The run's chunks as UI chunks, starting with `sofar`; `ended` runs once the run has ended. */
  stream(runId: string, sofar: string, ended: () => void): ReadableStream<UIMessageChunk> {
    const textId = `${runId}:${this.subscription.offset}`;
    const tools = new Map<string, string>();
    const head: UIMessageChunk[] = [{ type: "start", messageId: runId }, { type: "text-start", id: textId }];
    if (sofar) head.push({ type: "text-delta", id: textId, delta: sofar });
    const chunksOf = (entry: Entry): { chunks: UIMessageChunk[]; last: boolean } => {
      if (entry.type === "chunk" && entry.value?.run_id === runId) {
        return { chunks: [{ type: "text-delta", id: textId, delta: entry.value.delta }], last: false };
      }
      if (entry.type === "tool_call" && entry.value?.run_id === runId) return { chunks: toolChunks(entry.value, tools), last: false };
      if (entry.type === "run" && entry.key === runId && entry.value && !isActive(entry.value)) {
        const end: UIMessageChunk =
          entry.value.status === "failed"
            ? { type: "error", errorText: entry.value.error?.message ?? "the run failed" }
            : { type: "finish", finishReason: FINISHED[entry.value.status] ?? "other" };
        return { chunks: [{ type: "text-end", id: textId }, end], last: true };
      }
      return { chunks: [], last: false };
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
              if (this.failure) throw this.failure;
              await new Promise<void>((resolve) => (this.wake = resolve));
            }
            const { chunks, last } = chunksOf(this.entries.shift()!);
            chunks.forEach((c) => controller.enqueue(c));
            if (last) {
              controller.close();
              ended();
              this.close();
              return;
            }
            if (chunks.length) return;
          }
        },
        cancel: () => this.close(),
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
    out.push({ type: "tool-input-available", toolCallId: call.id, toolName: call.name, input, dynamic: true });
  }
  if (call.status !== was) {
    if (call.status === "completed") out.push({ type: "tool-output-available", toolCallId: call.id, output: call.output, dynamic: true });
    if (call.status === "denied") out.push({ type: "tool-output-denied", toolCallId: call.id });
  }
  seen.set(call.id, call.status);
  return out;
}

function finishedStream(reason: "stop"): ReadableStream<UIMessageChunk> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue({ type: "finish", finishReason: reason });
      controller.close();
    },
  });
}
