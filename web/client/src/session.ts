import type { Delivery, Floor, Message, Participant, Presence, Role, Run, SessionView, Signal, ToolCall } from "./entities.js";
import { type Http, TetherError } from "./http.js";
import { NotSent, Subscription, type SubscribeOptions, type WebSocketFactory } from "./connection.js";
import { SessionState } from "./state.js";

export interface SendOptions {
  /** Your id for the message: sending it again (a retry) returns the original. Generated when absent. */
  id?: string;
  /** `operators` whispers to operators (needs `floor`). */
  visibility?: "all" | "operators";
}

export type FloorAction = "take" | "supervise" | "release" | "return";

/** A live, materialised session: the state, kept current by a subscription. */
export interface Follower {
  readonly state: SessionState;
  readonly subscription: Subscription;
  close(): void;
}

/**
 * One session. Reads and writes go over the session's WebSocket while a subscription holds it
 * open, and over HTTP otherwise; a message carries an id, so a retry after a lost reply is safe.
 */
export class Session {
  private live: Subscription | undefined;
  /** The status last set through {@link presence}; heartbeats repeat it. */
  private status: "online" | "away" | undefined;

  constructor(
    private readonly http: Http,
    readonly id: string,
    private readonly WebSocketImpl: WebSocketFactory | undefined,
  ) {}

  private get path(): string {
    return `/v1/sessions/${encodeURIComponent(this.id)}`;
  }

  /** Follows the log from `options.offset`, resuming exactly after every disconnect. */
  subscribe(options: SubscribeOptions): Subscription {
    const subscription: Subscription = new Subscription(this.http, this.id, options, this.WebSocketImpl, (viaSocket): Promise<unknown> =>
      viaSocket ? subscription.request({ type: "presence", ...(this.status ? { status: this.status } : {}) }) : this.presence(this.status),
    );
    this.live = subscription;
    return subscription;
  }

  /**
   * Subscribes and folds the log into a {@link SessionState}; `onChange` runs after each entry
   * (and `options.onEntry`, if given, just before it is applied; `options.onReset` after the state
   * was cleared because the log restarts from its beginning).
   */
  follow(
    onChange: (state: SessionState) => void,
    options: Omit<SubscribeOptions, "onEntry"> & { onEntry?: SubscribeOptions["onEntry"] } = {},
  ): Follower {
    const state = new SessionState();
    const subscription = this.subscribe({
      ...options,
      onEntry: (entry) => {
        options.onEntry?.(entry);
        state.apply(entry);
        onChange(state);
      },
      onReset: () => {
        state.clear();
        options.onReset?.();
        onChange(state);
      },
    });
    return { state, subscription, close: () => subscription.close() };
  }

  /** The materialised view, with active runs' text so far. */
  view(): Promise<SessionView> {
    return this.http.json("GET", this.path);
  }

  /** Posts a message; resolves once it is durable, with the run it started (if any). */
  send(content: string, options: SendOptions = {}): Promise<{ message: Message; run: Run | null }> {
    const body = { content, id: options.id ?? newId("msg"), ...(options.visibility ? { visibility: options.visibility } : {}) };
    return this.act({ type: "message", ...body }, "POST", "/messages", body, true);
  }

  cancel(runId: string): Promise<Signal> {
    return this.act({ type: "signal", kind: "cancel", run_id: runId }, "POST", `/runs/${runId}/cancel`, {});
  }

  steer(runId: string, input: string): Promise<Signal> {
    return this.act({ type: "signal", kind: "steer", run_id: runId, input }, "POST", `/runs/${runId}/steer`, { input });
  }

  approve(callId: string, reason?: string): Promise<Signal> {
    return this.decide("approve", callId, reason);
  }

  deny(callId: string, reason?: string): Promise<Signal> {
    return this.decide("deny", callId, reason);
  }

  /** Handover: `take` (cold), `supervise` (warm), `release` / `return` (back to the agent). */
  floor(action: FloorAction, to?: string): Promise<Floor> {
    const body = { action, ...(to ? { to } : {}) };
    return this.act({ type: "floor", ...body }, "POST", "/floor", body);
  }

  /** Records that this participant (and device) has seen everything up to `offset`. */
  ack(offset: string, device?: string): Promise<Delivery> {
    const body = { offset, ...(device ? { device } : {}) };
    return this.act({ type: "ack", ...body }, "POST", "/ack", body, true);
  }

  join(role: Role, name?: string): Promise<Participant> {
    const body = { role, ...(name ? { name } : {}) };
    return this.act({ type: "join", ...body }, "POST", "/participants", body);
  }

  leave(participantId: string): Promise<unknown> {
    return this.http.json("DELETE", `${this.path}/participants/${encodeURIComponent(participantId)}`);
  }

  /** A presence heartbeat, optionally setting `away` / `online` (later heartbeats repeat it). */
  presence(status?: "online" | "away"): Promise<Presence> {
    if (status) this.status = status;
    const body = status ? { status } : {};
    return this.act({ type: "presence", ...body }, "POST", "/presence", body, true);
  }

  /** The log folded to one insert per live entity, and the offset to follow it from. */
  async snapshot(): Promise<{ entries: unknown[]; offset: string }> {
    const response = await this.http.send("GET", `${this.path}/snapshot`);
    return { entries: (await response.json()) as unknown[], offset: response.headers.get("stream-next-offset") ?? "-1" };
  }

  /** The audit export: every entry (whispers included) with the offset after it, as JSON lines. */
  async audit(): Promise<string> {
    return (await this.http.send("GET", `${this.path}/audit?format=jsonl`)).text();
  }

  private decide(kind: "approve" | "deny", callId: string, reason?: string): Promise<Signal> {
    const body = reason ? { reason } : {};
    return this.act({ type: "signal", kind, target: callId, ...body }, "POST", `/tool_calls/${callId}/${kind}`, body);
  }

  /**
   * Over the open WebSocket when there is one, over HTTP when not. When the socket drops after the
   * frame left, only a `repeatable` action (a message with its id, presence, ack) is sent again
   * over HTTP; any other (a decision, a steer, a take) may have been applied, so the caller gets
   * the error and reads the state instead of applying it twice.
   */
  private async act<T>(frame: Record<string, unknown>, method: string, suffix: string, body: unknown, repeatable = false): Promise<T> {
    if (this.live?.isSocketOpen()) {
      try {
        return (await this.live.request(frame)) as T;
      } catch (error) {
        if (error instanceof TetherError || !(repeatable || error instanceof NotSent)) throw error;
      }
    }
    return this.http.json<T>(method, this.path + suffix, body);
  }
}

/** A random id with a prefix, e.g. `msg_4f1c…`. */
export function newId(prefix: string): string {
  return `${prefix}_${globalThis.crypto.randomUUID().replace(/-/g, "")}`;
}
