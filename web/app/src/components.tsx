import { useState } from "preact/hooks";
import { isActive, type Run, type Session, type SessionState, type ToolCall, type ConnectionStatus } from "@tether/client";

const time = (at: string | undefined) => (at ? new Date(at).toLocaleTimeString() : "");

/** "Connection lost" while the subscription reconnects (it resumes from its offset by itself). */
export function ConnectionBanner({ status, error }: { status: ConnectionStatus; error?: unknown }) {
  if (status === "reconnecting")
    return <div class="banner warn" data-testid="reconnect-banner">Connection lost — reconnecting; nothing will be missed.</div>;
  if (status === "closed" && error)
    return <div class="banner error" data-testid="closed-banner">Disconnected: {String((error as Error).message ?? error)}</div>;
  return null;
}

/** Who is here: the agent with what it is doing, and any human operator. */
export function PresenceBar({ state }: { state: SessionState }) {
  const present = state.present();
  const agents = [...state.presence.values()].filter(
    (p) => p.agent_status != null || state.participants.get(p.participant)?.role === "agent",
  );
  const operators = present.filter((p) => p.participant?.role === "operator");
  const floor = state.floor;
  return (
    <div class="presence">
      {agents.map((p) => {
        const status = p.status === "offline" ? "offline" : (p.agent_status ?? "idle");
        return (
          <span class={`chip agent ${status}`} data-testid="agent-status" data-status={status} key={p.participant}>
            <i class="dot" /> agent {state.participants.get(p.participant)?.name ?? p.participant}: {status}
          </span>
        );
      })}
      {operators.map(({ participant, presence }) => (
        <span class="chip operator" data-testid="operator-presence" key={presence.participant}>
          <i class="dot" /> {participant?.name ?? presence.participant} (human operator, {presence.status})
        </span>
      ))}
      {floor && floor.mode !== "agent" && (
        <span class="chip floor" data-testid="floor-banner" data-mode={floor.mode}>
          {floor.mode === "human" ? `A human (${floor.holder}) is answering` : `Supervised by ${floor.supervisor ?? floor.holder}`}
        </span>
      )}
    </div>
  );
}

function ToolCallCard({ call, session, canDecide }: { call: ToolCall; session: Session; canDecide: boolean }) {
  const [error, setError] = useState("");
  const decide = (approve: boolean) =>
    (approve ? session.approve(call.id) : session.deny(call.id, "denied in the web app")).catch((e: Error) => setError(e.message));
  return (
    <div class={`tool ${call.status}`} data-testid="tool-call" data-status={call.status}>
      <code>
        {call.name}({call.arguments})
      </code>{" "}
      <span class="status">{call.status.replace("_", " ")}</span>
      {call.output != null && <div class="output">→ {call.output}</div>}
      {call.status === "approval_required" && canDecide && (
        <span class="actions">
          <button data-testid="approve" onClick={() => decide(true)}>Approve</button>
          <button data-testid="deny" onClick={() => decide(false)}>Deny</button>
        </span>
      )}
      {error && <div class="error">{error}</div>}
    </div>
  );
}

function RunView({ run, state, session, canDecide }: { run: Run; state: SessionState; session: Session; canDecide: boolean }) {
  const text = state.runText(run.id);
  return (
    <div class={`bubble agent run ${run.status}`} data-testid="run" data-run-id={run.id} data-status={run.status}>
      <div class="who">
        {run.agent} · {time(run.at)} <span class="status" data-testid="run-status">{run.status.replace("_", " ")}</span>
      </div>
      <div class="text" data-testid="run-text">
        {text}
        {isActive(run) && <span class="cursor">▍</span>}
      </div>
      {state.toolCallsOf(run.id).map((call) => (
        <ToolCallCard call={call} session={session} canDecide={canDecide} key={call.id} />
      ))}
      {run.error && run.status !== "completed" && <div class="error">{run.error.code}: {run.error.message}</div>}
    </div>
  );
}

/** Messages and runs in log order. `me` marks the viewer's own messages. */
export function Timeline({ state, session, me, canDecide }: { state: SessionState; session: Session; me?: string; canDecide: boolean }) {
  return (
    <div class="timeline" data-testid="timeline">
      {state.timeline.map((item) => {
        if (item.kind === "run") {
          const run = state.runs.get(item.id);
          return run ? <RunView run={run} state={state} session={session} canDecide={canDecide} key={item.id} /> : null;
        }
        const m = state.messages.get(item.id);
        if (!m) return null;
        const mine = me !== undefined ? m.actor.id === me : m.role === "user";
        const whisper = m.visibility === "operators";
        return (
          <div
            class={`bubble ${m.role} ${mine ? "mine" : ""} ${whisper ? "whisper" : ""}`}
            data-testid={`message-${m.role}`}
            key={item.id}
          >
            <div class="who">
              {whisper ? "whisper · " : ""}
              {m.actor.id} ({m.role}) · {time(m.at)}
            </div>
            <div class="text">{m.content}</div>
          </div>
        );
      })}
    </div>
  );
}

/** A text box that sends on Enter (Shift+Enter: new line). */
export function Composer({ onSend, placeholder, testid = "composer", disabled }: { onSend: (text: string) => Promise<unknown>; placeholder: string; testid?: string; disabled?: boolean }) {
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const send = async () => {
    const value = text.trim();
    if (!value) return;
    setText("");
    setError("");
    try {
      await onSend(value);
    } catch (e) {
      setText(value);
      setError((e as Error).message);
    }
  };
  return (
    <div class="composer">
      <textarea
        data-testid={testid}
        value={text}
        placeholder={placeholder}
        disabled={disabled}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey) {
            e.preventDefault();
            void send();
          }
        }}
      />
      <button data-testid={`${testid}-send`} onClick={() => void send()} disabled={disabled}>
        Send
      </button>
      {error && <div class="error">{error}</div>}
    </div>
  );
}
