import type { ChatTransport, UIMessage, UIMessageChunk } from "ai";
import { isActive, type Entry, type Run, type Session, type Subscription, type TetherClient, type ToolCall } from "@tether/client";

export interface TetherChatTransportOptions {
  client: TetherClient;
  /** The session a chat id maps to. Default: the chat id is the session id. */
  sessionId?: (chatId: string) => string;
}

/** How far a chat's stream got: the run it shows and the offset after the last entry turned into chunks. */
interface Progress {
  runId: string;
  offset: string;
}

const FINISHED: Record<string, "stop" | "other" | "error"> = {
  completed: "stop",
  cancelled: "other",
  incomplete: "other",
  failed: "error",
};

/**
 * A Vercel AI SDK `ChatTransport` over a Tether session. `sendMessages` posts the last user
 * message to the session and streams the run it starts as UI message chunks; `reconnectToStream`
 * resumes the session's active run: from the offset this transport reached (no text the UI already
 * has comes again), or from the run's start after a page load. The stream survives network drops
 * on its own (the session subscription resumes by offset).
 *
 * Aborting a stream (useChat's `stop()`, an unmount, a closed tab) only detaches the reader: the
 * run goes on, as every device of the session sees it. {@link stop} cancels the run.
 */
export class TetherChatTransport<M extends UIMessage = UIMessage> implements ChatTransport<M> {
  /** A resumed stream continues where this transport left off, or replays a run the UI never showed. */
  readonly resumeStreamIsReplay = false;
  private readonly progress = new Map<string, Progress>();
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
      return reader.stream(run.id, "", options.chatId, this.progress);
    } catch (error) {
      reader.close();
      throw error;
    }
  }

  async reconnectToStream(
    options: Parameters<ChatTransport<M>["reconnectToStream"]>[0],
  ): Promise<ReadableStream<UIMessageChunk> | null> {
    const session = this.client.session(this.sessionOf(options.chatId));
    const known = this.progress.get(options.chatId);
    if (known) {
      const view = await session.view();
      const run = view.runs.find((r) => r.id === known.runId);
      if (run && isActive(run)) {
        const reader = await RunReader.open(session, known.offset, options.abortSignal);
        return reader.stream(known.runId, "", options.chatId, this.progress);
      }
    }
    // A fresh page: the UI has none of the active run. The snapshot holds its chunks so far and
    // the offset to continue from.
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
    return reader.stream(run.id, sofar, options.chatId, this.progress);
  }

  /** Cancels the chat's active run (what a Stop button means); the stream then ends. */
  async stop(chatId: string): Promise<void> {
    const session = this.client.session(this.sessionOf(chatId));
    const known = this.progress.get(chatId);
    const runs = known ? [known.runId] : (await session.view()).runs.filter(isActive).map((r) => r.id);
    await Promise.all(runs.map((id) => session.cancel(id).catch(() => undefined)));
  }
}

/** One session subscription turned into one run's UI message chunks. */
class RunReader {
  private handler: ((entry: Entry) => void) | undefined;
  private readonly early: Entry[] = [];

  private constructor(private readonly subscription: Subscription) {}

  static open(session: Session, offset: string, signal: AbortSignal | undefined): Promise<RunReader> {
    return new Promise((resolve, reject) => {
      let reader: RunReader;
      const subscription = session.subscribe({
        offset,
        heartbeatMs: 0,
        onEntry: (entry) => (reader.handler ? reader.handler(entry) : reader.early.push(entry)),
        onStatus: (status, info) => {
          if (status === "open") resolve(reader);
          if (status === "closed") reject(info.error ?? new Error("subscription closed"));
        },
      });
      reader = new RunReader(subscription);
      signal?.addEventListener("abort", () => subscription.close(), { once: true });
    });
  }

  close(): void {
    this.subscription.close();
  }

  stream(runId: string, sofar: string, chatId: string, progress: Map<string, Progress>): ReadableStream<UIMessageChunk> {
    const textId = `${runId}:${this.subscription.offset}`;
    const tools = new Map<string, string>();
    return new ReadableStream<UIMessageChunk>({
      start: (controller) => {
        controller.enqueue({ type: "start", messageId: runId });
        controller.enqueue({ type: "text-start", id: textId });
        if (sofar) controller.enqueue({ type: "text-delta", id: textId, delta: sofar });
        const done = (chunks: UIMessageChunk[]) => {
          this.handler = () => {};
          chunks.forEach((c) => controller.enqueue(c));
          controller.close();
          progress.delete(chatId);
          this.close();
        };
        this.handler = (entry) => {
          if (entry.offset) progress.set(chatId, { runId, offset: entry.offset });
          if (entry.type === "chunk" && entry.value?.run_id === runId) {
            controller.enqueue({ type: "text-delta", id: textId, delta: entry.value.delta });
          } else if (entry.type === "tool_call" && entry.value?.run_id === runId) {
            toolChunks(entry.value, tools).forEach((c) => controller.enqueue(c));
          } else if (entry.type === "run" && entry.key === runId && entry.value && !isActive(entry.value)) {
            const end: UIMessageChunk[] = [{ type: "text-end", id: textId }];
            if (entry.value.status === "failed") end.push({ type: "error", errorText: entry.value.error?.message ?? "the run failed" });
            else end.push({ type: "finish", finishReason: FINISHED[entry.value.status] ?? "other" });
            done(end);
          }
        };
        this.early.splice(0).forEach((e) => this.handler!(e));
      },
      cancel: () => this.close(),
    });
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
