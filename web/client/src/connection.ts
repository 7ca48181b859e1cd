import type { Entry } from "./entities.js";
import { Http, TetherError } from "./http.js";

export type Transport = "websocket" | "sse";
export type ConnectionStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface SubscribeOptions {
  /** Where to start: `-1` (the log's start, the default), `now`, or an offset the server issued. */
  offset?: string;
  /** `auto` (the default) uses the WebSocket and falls back to SSE when it cannot connect. */
  transport?: "auto" | Transport;
  /** Called once per entry, in log order, after the cursor has moved past it. */
  onEntry: (entry: Entry) => void;
  /** Connection changes: `reconnecting` carries the error that closed the last connection. */
  onStatus?: (status: ConnectionStatus, info: { transport: Transport; error?: unknown }) => void;
  /**
   * The server could not continue after the cursor (the session was deleted and created again):
   * delivery restarts at the log's start, so state built so far must be dropped.
   */
  onReset?: () => void;
  /**
   * Presence heartbeat interval in ms (0: none; the connection alone keeps presence online).
   * Default 5000. A heartbeat repeats the last status set through `Session.presence`.
   */
  heartbeatMs?: number;
  /** Reconnect back-off bounds in ms. Default 250 → 5000. */
  backoff?: { initialMs: number; maxMs: number };
}

type WebSocketLike = {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
};
export type WebSocketFactory = new (url: string) => WebSocketLike;

/** A request that never left: the WebSocket was not open. Safe to send another way. */
export class NotSent extends Error {}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

const REPLY_TIMEOUT_MS = 30_000;
const WS_FAILURES_BEFORE_SSE = 2;

/**
 * A live reader of one session's log that survives every disconnect. It keeps a cursor (the offset
 * after the last entry delivered), moves it before an entry is handed to `onEntry`, and reconnects
 * from it with back-off, so a reconnect never repeats or skips an entry. Over the WebSocket it also
 * carries requests (`request`), each answered by a reply frame.
 */
export class Subscription {
  private cursor: string;
  private status: ConnectionStatus = "connecting";
  private transport: Transport;
  private ws: WebSocketLike | undefined;
  private sse: AbortController | undefined;
  private closed = false;
  private wsFailures = 0;
  private attempt = 0;
  private freshToken = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private nextRef = 1;
  private readonly pending = new Map<string, Pending>();
  /** Back online: try again at once, over the WebSocket again when `auto` had fallen back to SSE. */
  private readonly onOnline = () => {
    if ((this.options.transport ?? "auto") === "auto" && this.WebSocketImpl && this.transport === "sse") {
      this.wsFailures = 0;
      this.transport = "websocket";
      if (this.status === "open") this.sse?.abort(); // the read loop reports it lost; reconnects over the WebSocket
    }
    this.reconnectNow();
  };
  /** The last error frame without a `ref` (token expired, log unreadable): the reason of the close after it. */
  private serverError: unknown;
  /** The browser says the network is gone: drop the connection now rather than wait for a timeout. */
  private readonly onOffline = () => {
    if (this.closed || this.status !== "open") return;
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(4000, "offline");
    this.sse?.abort();
    this.sse = undefined;
    this.lost(new Error("the network is offline"));
  };

  constructor(
    private readonly http: Http,
    private readonly sessionId: string,
    private readonly options: SubscribeOptions,
    private readonly WebSocketImpl: WebSocketFactory | undefined,
    private readonly beat: (viaSocket: boolean) => Promise<unknown>,
  ) {
    this.cursor = options.offset ?? "-1";
    const wanted = options.transport ?? "auto";
    this.transport = wanted === "sse" || !WebSocketImpl ? "sse" : "websocket";
    if (wanted === "websocket" && !WebSocketImpl) throw new Error("no WebSocket implementation: pass one to TetherClient");
    globalThis.addEventListener?.("online", this.onOnline);
    globalThis.addEventListener?.("offline", this.onOffline);
    const every = options.heartbeatMs ?? 5000;
    if (every > 0) this.heartbeat = setInterval(() => void this.beat(this.isSocketOpen()).catch(() => {}), every);
    void this.connect();
  }

  /** The offset after the last entry delivered: resume from it. */
  get offset(): string {
    return this.cursor;
  }

  get connection(): { status: ConnectionStatus; transport: Transport } {
    return { status: this.status, transport: this.transport };
  }

  /** Stops for good: closes the connection, stops heartbeats, fails requests in flight. */
  close(error?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    globalThis.removeEventListener?.("online", this.onOnline);
    globalThis.removeEventListener?.("offline", this.onOffline);
    this.ws?.close(1000, "client closed");
    this.sse?.abort();
    this.failPending(error ?? new Error("subscription closed"));
    this.setStatus("closed", error);
  }

  isSocketOpen(): boolean {
    return this.ws !== undefined && this.ws.readyState === 1 && this.status === "open";
  }

  /** Sends a client frame over the open WebSocket and resolves with its reply's `result`. */
  request(frame: Record<string, unknown>): Promise<unknown> {
    const ws = this.ws;
    if (!ws || !this.isSocketOpen()) return Promise.reject(new NotSent("the WebSocket is not open"));
    const ref = String(this.nextRef++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error(`no reply to ${String(frame.type)} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...frame, ref }));
    });
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.setStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    try {
      if (this.transport === "websocket") await this.connectSocket();
      else await this.connectSse();
    } catch (error) {
      this.lost(error);
    }
  }

  private async connectSocket(): Promise<void> {
    const url = (await this.http.streamUrl(`/v1/sessions/${this.sessionId}/ws`, { offset: this.cursor }, this.freshToken))
      .replace(/^http/, "ws");
    this.freshToken = false;
    if (this.closed) return;
    const ws = new this.WebSocketImpl!(url);
    this.ws = ws;
    let opened = false;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return; // a socket we dropped (the `ws` package still emits after close())
      const frame = JSON.parse(String(ev.data)) as Record<string, unknown>;
      if (frame.type === "subscribed") {
        opened = true;
        this.wsFailures = 0;
        this.subscribed(frame.recovered === true, typeof frame.offset === "string" ? frame.offset : undefined);
      } else if (frame.type === "error" && frame.ref === undefined) {
        this.serverError = new TetherError(Number(frame.status ?? 0), frame, "the server closed the session socket");
      } else if (frame.type === "reply" || frame.type === "error") {
        this.answer(frame);
      } else {
        this.deliver([frame as unknown as Entry], (frame as { offset: string }).offset);
      }
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      // Browsers hide an upgrade refused with 401: the first failure of a streak asks for a fresh
      // token (once, not on every retry of an outage), as does a 1008 close (e.g. the token expired).
      if (!opened && ++this.wsFailures === 1) this.freshToken = true;
      if (ev.code === 1008) this.freshToken = true;
      const error = this.serverError ?? new Error(`WebSocket closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`);
      this.serverError = undefined;
      this.lost(error);
    };
  }

  private async connectSse(): Promise<void> {
    const controller = new AbortController();
    this.sse = controller;
    const path = `/v1/sessions/${this.sessionId}/events?offset=${encodeURIComponent(this.cursor)}&live=sse`;
    try {
      await this.readSse(path, controller);
    } catch (error) {
      if (controller.signal.aborted) return; // whoever aborted it (close, offline) has moved on
      controller.abort(); // never leave the request open (it counts as a device)
      throw error;
    } finally {
      if (this.sse === controller) this.sse = undefined;
    }
    // The server ends SSE responses now and then; entries after the last control event come again.
    this.lost(new Error("SSE response ended"));
  }

  private async readSse(path: string, controller: AbortController): Promise<void> {
    let response: Response;
    try {
      response = await this.http.send("GET", path, undefined, controller.signal, "text/event-stream");
    } catch (error) {
      if (error instanceof TetherError && error.status === 410 && this.cursor !== "-1" && this.cursor !== "now") {
        // the offset is gone (the session was deleted and created again): start over, like `recovered: false`
        this.cursor = "-1";
        this.options.onReset?.();
        throw error;
      }
      if (error instanceof TetherError && error.status >= 400 && error.status < 500 && error.status !== 429) {
        this.fatal(error);
        controller.abort();
        return;
      }
      throw error;
    }
    this.subscribed(true);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = "";
    let data: string[] = [];
    let batch: Entry[] = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, "");
          buffer = buffer.slice(nl + 1);
          if (line === "") {
            if (event === "data" && data.length) batch.push(...(JSON.parse(data.join("\n")) as Entry[]));
            else if (event === "control" && data.length) {
              const control = JSON.parse(data.join("\n")) as { streamNextOffset?: string };
              if (control.streamNextOffset) {
                this.deliver(batch, control.streamNextOffset);
                batch = [];
              }
            }
            event = "";
            data = [];
          } else if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  /** `offset`: where delivery starts (the WebSocket says), so a reconnect before any entry loses nothing. */
  private subscribed(recovered: boolean, offset?: string): void {
    const resuming = this.cursor !== "-1" && this.cursor !== "now";
    if (!recovered && resuming) {
      this.cursor = "-1";
      this.options.onReset?.();
    }
    if (offset && this.cursor === "now") this.cursor = offset;
    this.attempt = 0;
    this.setStatus("open");
  }

  /** Moves the cursor to `offset`, then hands the entries over. */
  private deliver(entries: Entry[], offset: string): void {
    if (this.closed) return;
    this.cursor = offset;
    entries.forEach((entry, i) => {
      if (this.closed) return; // closed from inside onEntry
      if (entry.offset === undefined && i === entries.length - 1) entry.offset = offset;
      this.options.onEntry(entry);
    });
  }

  private answer(frame: Record<string, unknown>): void {
    const pending = this.pending.get(String(frame.ref));
    if (!pending) return;
    this.pending.delete(String(frame.ref));
    clearTimeout(pending.timer);
    if (frame.type === "reply") pending.resolve(frame.result);
    else pending.reject(new TetherError(Number(frame.status ?? 0), frame, `${String(frame.ref)}: error frame`));
  }

  private lost(error: unknown): void {
    if (this.closed) return;
    this.failPending(error);
    if ((this.options.transport ?? "auto") === "auto" && this.transport === "websocket" && this.wsFailures >= WS_FAILURES_BEFORE_SSE) {
      this.transport = "sse";
      this.attempt = 0;
    }
    this.setStatus("reconnecting", error);
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 250, maxMs: 5000 };
    const delay = Math.min(maxMs, initialMs * 2 ** this.attempt++) * (0.75 + Math.random() * 0.5);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  /** A refusal no retry can fix (403, 404, 400): stops, with the error in the `closed` status. */
  private fatal(error: TetherError): void {
    this.close(error);
  }

  private reconnectNow(): void {
    if (this.closed || this.reconnectTimer === undefined) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.attempt = 0;
    void this.connect();
  }

  private failPending(error: unknown): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
  }

  private setStatus(status: ConnectionStatus, error?: unknown): void {
    if (this.status === status && status !== "reconnecting") return;
    if (this.status === "closed") return;
    this.status = status;
    this.options.onStatus?.(status, { transport: this.transport, error });
  }
}
