import type { Entry } from "@tether/client";
import type { Followed } from "../hooks";
import { ConnectionBanner } from "../components";

function summary(e: Entry): string {
  const v = e.value as Record<string, unknown> | null;
  if (!v) return "";
  switch (e.type) {
    case "chunk":
      return JSON.stringify(v.delta);
    case "message":
      return `${v.visibility === "operators" ? "[whisper] " : ""}${String(v.content)}`;
    case "run":
      return `${String(v.status)}${v.error ? ` (${(v.error as { code: string }).code})` : ""}`;
    case "presence":
      return `${String(v.status)}${v.agent_status ? ` / ${String(v.agent_status)}` : ""}, ${String(v.devices)} device(s)`;
    case "signal":
      return `${String(v.kind)} ${String(v.outcome)}${v.reason ? ` (${String(v.reason)})` : ""}`;
    case "floor":
      return `${String(v.mode)} → ${String(v.holder)}`;
    case "tool_call":
      return `${String(v.name)} ${String(v.status)}`;
    case "delivery":
      return `up to ${String(v.offset)}`;
    default:
      return "";
  }
}

async function exportAudit(followed: Followed) {
  const text = await followed.session.audit();
  const url = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
  const a = Object.assign(document.createElement("a"), { href: url, download: `${followed.session.id}.audit.jsonl` });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000); // revoking at once can cancel the download
}

/** The log as stored: every entry with its offset, actor and time; runs with chunks; presence history; audit export. */
export function Inspector({ followed }: { followed: Followed }) {
  const { entries, state, status, error } = followed;
  const presence = entries.filter((e) => e.type === "presence");
  return (
    <div class="view inspector">
      <ConnectionBanner status={status} error={error} />
      <div class="toolbar">
        <b>{entries.length}</b> entries · via {followed.transport} ·
        <button data-testid="export-audit" onClick={() => void exportAudit(followed).catch((e) => alert(e.message))}>Export audit (JSONL)</button>
      </div>
      <h3>Log</h3>
      <table class="log" data-testid="log">
        <thead>
          <tr>
            <th>offset</th>
            <th>type</th>
            <th>key</th>
            <th>op</th>
            <th>actor</th>
            <th>at</th>
            <th>what</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e, i) => (
            <tr key={i} class={`entry-${e.type}`}>
              <td class="mono">{e.offset ?? ""}</td>
              <td>{e.type}</td>
              <td class="mono">{e.key}</td>
              <td>{e.headers.operation}</td>
              <td>{e.value ? `${e.value.actor.id} (${e.value.actor.role})` : ""}</td>
              <td>{e.value ? new Date(e.value.at).toLocaleTimeString() : ""}</td>
              <td class="what">{summary(e)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Runs</h3>
      {state &&
        [...state.runs.values()].map((run) => {
          const chunks = entries.filter((e) => e.type === "chunk" && e.value && e.value.run_id === run.id);
          return (
            <details key={run.id} data-testid="inspector-run">
              <summary>
                {run.id} · {run.status} · {chunks.length} chunk(s) · trigger {run.trigger ?? "—"}
              </summary>
              <ol start={0}>
                {chunks.map((c, i) => (
                  <li key={i} class="mono">
                    {JSON.stringify((c.value as { delta: string }).delta)}
                  </li>
                ))}
              </ol>
            </details>
          );
        })}
      <h3>Presence history</h3>
      <ul class="presence-history">
        {presence.map((e, i) => (
          <li key={i}>
            {e.value ? new Date(e.value.at).toLocaleTimeString() : ""} · {e.key}: {summary(e)}
          </li>
        ))}
      </ul>
    </div>
  );
}
