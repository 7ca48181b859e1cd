import type {
  Chunk,
  Delivery,
  Entry,
  Floor,
  Message,
  Participant,
  Presence,
  Run,
  SessionValue,
  Signal,
  ToolCall,
} from "./entities.js";

/** A message or a run, in the order the log first showed it: what a chat renders top to bottom. */
export type TimelineItem = { kind: "message"; id: string } | { kind: "run"; id: string };

const ACTIVE = new Set(["queued", "running", "waiting_approval"]);

/** True while a run can still change (queued, running or waiting for an approval). */
export function isActive(run: Run): boolean {
  return ACTIVE.has(run.status);
}

/**
 * A session's log folded into its entities, the way the State Protocol materialises it: inserts
 * and updates replace a row (Tether writes whole entities), deletes remove it. Runs get their text
 * so far from their chunks until the final record carries it whole.
 */
export class SessionState {
  session: SessionValue | undefined;
  floor: Floor | undefined;
  readonly participants = new Map<string, Participant>();
  readonly presence = new Map<string, Presence>();
  readonly messages = new Map<string, Message>();
  readonly runs = new Map<string, Run>();
  readonly toolCalls = new Map<string, ToolCall>();
  readonly signals = new Map<string, Signal>();
  readonly deliveries = new Map<string, Delivery>();
  readonly timeline: TimelineItem[] = [];
  /** The offset after the last entry applied. */
  offset: string | undefined;
  /** Entries applied so far (for change detection). */
  version = 0;
  private readonly chunks = new Map<string, string[]>();

  /** Forgets everything (the log restarts from its beginning). */
  clear(): void {
    this.session = undefined;
    this.floor = undefined;
    for (const map of [this.participants, this.presence, this.messages, this.runs, this.toolCalls, this.signals, this.deliveries, this.chunks]) {
      map.clear();
    }
    this.timeline.length = 0;
    this.offset = undefined;
    this.version++;
  }

  apply(entry: Entry): void {
    this.version++;
    if (entry.offset) this.offset = entry.offset;
    const removed = entry.headers.operation === "delete" || entry.value === null;
    switch (entry.type) {
      case "session":
        this.session = removed ? undefined : entry.value!;
        break;
      case "floor":
        this.floor = removed ? undefined : entry.value!;
        break;
      case "participant":
        this.put(this.participants, entry.key, removed ? undefined : entry.value!);
        break;
      case "presence":
        this.put(this.presence, entry.key, removed ? undefined : entry.value!);
        break;
      case "message":
        if (!removed && !this.messages.has(entry.key)) this.timeline.push({ kind: "message", id: entry.key });
        this.put(this.messages, entry.key, removed ? undefined : entry.value!);
        break;
      case "run":
        if (!removed && !this.runs.has(entry.key)) this.timeline.push({ kind: "run", id: entry.key });
        this.put(this.runs, entry.key, removed ? undefined : entry.value!);
        break;
      case "chunk":
        if (!removed) this.chunk(entry.value!);
        break;
      case "tool_call":
        this.put(this.toolCalls, entry.key, removed ? undefined : entry.value!);
        break;
      case "signal":
        this.put(this.signals, entry.key, removed ? undefined : entry.value!);
        break;
      case "delivery":
        this.put(this.deliveries, entry.key, removed ? undefined : entry.value!);
        break;
    }
  }

  /** The run's text: whole once it ended, else its chunks so far. */
  runText(runId: string): string {
    const run = this.runs.get(runId);
    if (run && !isActive(run) && run.text != null) return run.text;
    return (this.chunks.get(runId) ?? []).join("");
  }

  /** The runs that can still change, oldest first. */
  activeRuns(): Run[] {
    return [...this.runs.values()].filter(isActive);
  }

  /** Tool calls of a run (or all), in the order they appeared. */
  toolCallsOf(runId?: string): ToolCall[] {
    return [...this.toolCalls.values()].filter((c) => runId === undefined || c.run_id === runId);
  }

  /** Participants whose presence is online or away, with their presence. */
  present(): { participant: Participant | undefined; presence: Presence }[] {
    return [...this.presence.values()]
      .filter((p) => p.status !== "offline")
      .map((presence) => ({ participant: this.participants.get(presence.participant), presence }));
  }

  private chunk(chunk: Chunk): void {
    let parts = this.chunks.get(chunk.run_id);
    if (!parts) this.chunks.set(chunk.run_id, (parts = []));
    parts[chunk.seq] = chunk.delta;
  }

  private put<V>(map: Map<string, V>, key: string, value: V | undefined): void {
    if (value === undefined) map.delete(key);
    else map.set(key, value);
  }
}
