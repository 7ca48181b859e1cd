import { useState } from "preact/hooks";
import { client, tokenSubject } from "../api";
import type { Followed } from "../hooks";
import { usePoll } from "../hooks";
import { ConnectionBanner, Composer, PresenceBar, Timeline } from "../components";

/** Every session this operator may read, refreshed every 1.5 s. */
export function SessionList() {
  const { value, error } = usePoll(() => client.listSessionViews(), 1500);
  return (
    <div class="view operator-list">
      <h2>Sessions</h2>
      {error ? <div class="banner error">{String((error as Error).message)}</div> : null}
      <table>
        <thead>
          <tr>
            <th>session</th>
            <th>agent</th>
            <th>floor</th>
            <th>present</th>
            <th>active runs</th>
            <th>watching</th>
          </tr>
        </thead>
        <tbody>
          {(value ?? []).map((v) => {
            const agent = v.presence.find((p) => v.participants.find((q) => q.id === p.participant)?.role === "agent");
            return (
              <tr data-testid="session-row" data-session={v.id} key={v.id}>
                <td>
                  <a href={`#/operator/${v.id}`}>{v.id}</a>
                </td>
                <td>{agent ? (agent.status === "offline" ? "offline" : (agent.agent_status ?? "idle")) : v.agent ? "idle" : "—"}</td>
                <td>{v.floor?.mode ?? "agent"}</td>
                <td>
                  {v.presence
                    .filter((p) => p.status !== "offline")
                    .map((p) => p.participant)
                    .join(", ")}
                </td>
                <td>{v.runs.length}</td>
                <td>{v.watching_devices}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {value && value.length === 0 && <p class="muted">No sessions yet.</p>}
    </div>
  );
}

/** One session for an operator: everything (whispers too), handover controls, approvals. */
export function OperatorSession({ followed }: { followed: Followed }) {
  const { state, session, status, error } = followed;
  const [problem, setProblem] = useState("");
  const floor = state?.floor;
  const act = (p: Promise<unknown>) => p.then(() => setProblem("")).catch((e: Error) => setProblem(e.message));
  return (
    <div class="view operator">
      <ConnectionBanner status={status} error={error} />
      <div class="toolbar">
        <span>
          floor: <b data-testid="floor-mode">{floor?.mode ?? "agent"}</b> {floor?.holder ? `(${floor.holder})` : ""}
        </span>
        <button data-testid="supervise" onClick={() => act(session.floor("supervise"))}>Supervise</button>
        <button data-testid="take" onClick={() => act(session.floor("take"))}>Take over</button>
        <button data-testid="hand-back" onClick={() => act(session.floor("return"))}>Hand back</button>
        <a href={`#/inspect/${session.id}`}>Inspector</a>
      </div>
      {problem && <div class="banner error">{problem}</div>}
      {state && <PresenceBar state={state} />}
      {state && <Timeline state={state} session={session} me={tokenSubject()} canDecide={true} />}
      <Composer testid="reply" placeholder="Reply to the user (as the operator)…" onSend={(text) => session.send(text)} />
      <Composer testid="whisper" placeholder="Whisper to the agent and operators (the user does not see it)…" onSend={(text) => session.send(text, { visibility: "operators" })} />
    </div>
  );
}
