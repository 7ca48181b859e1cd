import type { Followed } from "../hooks";
import { ConnectionBanner, Composer, PresenceBar, Timeline } from "../components";
import { tokenSubject } from "../api";

/** A user's view of a session: the conversation, who is here, Stop, approvals, reconnects. */
export function Chat({ followed }: { followed: Followed }) {
  const { state, session, status, error } = followed;
  const active = state ? state.activeRuns() : [];
  return (
    <div class="view chat">
      <ConnectionBanner status={status} error={error} />
      {state && <PresenceBar state={state} />}
      {state ? <Timeline state={state} session={session} me={tokenSubject()} canDecide={true} /> : <p class="muted">Loading…</p>}
      <div class="controls">
        {active.length > 0 && (
          <button class="stop" data-testid="stop" onClick={() => active.forEach((r) => void session.cancel(r.id).catch(() => {}))}>
            ■ Stop
          </button>
        )}
      </div>
      <Composer placeholder="Message the agent…" onSend={(text) => session.send(text)} />
    </div>
  );
}
