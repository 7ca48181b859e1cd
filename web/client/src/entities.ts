/**
 * The session contract's entities (docs/sessions.md, "Entities"): every log entry is a State
 * Protocol change message whose value is one of these, stamped with the verified actor and the
 * server time.
 */

export type Role = "user" | "agent" | "operator" | "observer";

/** Who did it: the verified principal and its role in the session; the server is `tether`. */
export interface Actor {
  id: string;
  role: Role | "system";
}

interface Stamped {
  actor: Actor;
  /** Server time, RFC 3339 with milliseconds. */
  at: string;
}

export interface SessionPolicy {
  multitask: "enqueue" | "reject" | "interrupt" | "concurrent";
  rollup_ms: number;
  presence_timeout_ms: number;
  approval_timeout_ms: number;
  on_unwatched: { cancel_after_ms: number } | null;
}

export interface AgentConfig {
  model?: string;
  instructions?: string;
  tools?: unknown[];
  require_approval?: string[];
  temperature?: number;
  max_output_tokens?: number;
}

export interface SessionValue extends Stamped {
  id: string;
  status: string;
  agent: AgentConfig | null;
  policy: SessionPolicy;
  metadata: Record<string, unknown> | null;
  ttl: number | null;
  created_by: string;
}

export interface Participant extends Stamped {
  id: string;
  role: Role;
  name: string | null;
  joined_at: string;
  left_at: string | null;
}

export type AgentStatus = "idle" | "thinking" | "streaming" | "waiting" | "crashed";

export interface Presence extends Stamped {
  participant: string;
  status: "online" | "away" | "offline";
  agent_status: AgentStatus | null;
  devices: number;
  last_seen_at: string;
}

export interface Message extends Stamped {
  id: string;
  role: Role;
  content: string;
  visibility: "all" | "operators";
  run_id: string | null;
}

export type RunStatus =
  | "queued"
  | "running"
  | "waiting_approval"
  | "completed"
  | "cancelled"
  | "failed"
  | "incomplete";

export interface Run extends Stamped {
  id: string;
  trigger: string | null;
  status: RunStatus;
  agent: string;
  response_id: string | null;
  /** The whole text once the run has ended (before that, the chunks hold the text so far). */
  text: string | null;
  error: { code: string; message: string } | null;
  usage: Record<string, number> | null;
  context: string[] | null;
  steered_from: string | null;
}

export interface Chunk extends Stamped {
  id: string;
  run_id: string;
  seq: number;
  delta: string;
}

export type ToolCallStatus = "pending" | "approval_required" | "approved" | "denied" | "completed";

export interface ToolCall extends Stamped {
  id: string;
  run_id: string;
  name: string;
  arguments: string;
  status: ToolCallStatus;
  output: string | null;
}

export interface Signal extends Stamped {
  id: string;
  kind: "cancel" | "steer" | "approve" | "deny" | "message";
  run_id: string | null;
  target: string | null;
  input: string | null;
  outcome: "applied" | "rejected";
  reason: string | null;
}

export interface Floor extends Stamped {
  holder: string;
  mode: "agent" | "human" | "supervised";
  previous: string | null;
  supervisor: string | null;
}

export interface Delivery extends Stamped {
  participant: string;
  device: string;
  offset: string;
}

/** Entity type name → its value. */
export interface EntityTypes {
  session: SessionValue;
  participant: Participant;
  presence: Presence;
  message: Message;
  run: Run;
  chunk: Chunk;
  tool_call: ToolCall;
  signal: Signal;
  floor: Floor;
  delivery: Delivery;
}

export type EntityType = keyof EntityTypes;

/**
 * One log entry: a State Protocol change message. `offset` is the offset just after it: on every
 * entry over the WebSocket, and on the last entry of each server batch over SSE (SSE gives the
 * offset once per batch; the subscription's cursor is exact either way).
 */
export type Entry = {
  [T in EntityType]: {
    type: T;
    key: string;
    value: EntityTypes[T] | null;
    headers: { operation: "insert" | "update" | "delete"; timestamp?: string };
    offset?: string;
  };
}[EntityType];

/** `GET /v1/sessions/<id>`: the materialised view. */
export interface SessionView extends SessionValue {
  participants: Participant[];
  presence: Presence[];
  floor: Floor;
  runs: (Run & { text: string })[];
  watching_devices: number;
  next_offset: string;
}
