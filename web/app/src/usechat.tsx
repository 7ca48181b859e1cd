/** @jsxImportSource react */
// The sample useChat page: the Vercel AI SDK's React hook over a Tether session through
// @tether/ai-transport. ?session=<id> opens a session (else one is created with ?model=, default
// the app's last one or "demo"); #?token=… works as in the app.
import { useState } from "react";
import { createRoot } from "react-dom/client";
import { useChat } from "@ai-sdk/react";
import type { UIMessage } from "ai";
import { TetherChatTransport } from "@tether/ai-transport";
import { client, currentToken } from "./api";

function ChatPage({ sessionId, initial, transport }: { sessionId: string; initial: UIMessage[]; transport: TetherChatTransport }) {
  const { messages, sendMessage, status, stop, resumeStream } = useChat({ id: sessionId, messages: initial, transport, resume: true });
  const [input, setInput] = useState("");
  const busy = status === "submitted" || status === "streaming";
  return (
    <div style={{ maxWidth: 720, margin: "1rem auto", font: "15px system-ui" }}>
      <h2>useChat over Tether</h2>
      <p style={{ color: "#666" }}>
        session <code>{sessionId}</code> · status <b data-testid="chat-status">{status}</b>
      </p>
      {messages.map((m) => (
        <div key={m.id} data-testid={`ui-${m.role}`} style={{ margin: "0.4rem 0", textAlign: m.role === "user" ? "right" : "left" }}>
          <b>{m.role}:</b> {m.parts.map((p) => (p.type === "text" ? p.text : "")).join("")}
        </div>
      ))}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!input.trim()) return;
          void sendMessage({ text: input });
          setInput("");
        }}
      >
        <input data-testid="ui-input" value={input} onChange={(e) => setInput(e.target.value)} style={{ width: "70%" }} />
        <button type="submit" data-testid="ui-send">Send</button>
        {busy && (
          <button type="button" data-testid="ui-stop" onClick={() => void transport.stop(sessionId).then(stop)}>
            Stop
          </button>
        )}
        {/* A plain abort: this page stops reading, the run goes on; Resume continues where the page stopped. */}
        {busy && (
          <button type="button" data-testid="ui-detach" onClick={() => void stop()}>
            Detach
          </button>
        )}
        {!busy && (
          <button type="button" data-testid="ui-resume" onClick={() => void resumeStream()}>
            Resume
          </button>
        )}
      </form>
    </div>
  );
}

async function main() {
  currentToken();
  const params = new URLSearchParams(location.search);
  let sessionId = params.get("session");
  if (!sessionId) {
    const model = params.get("model") ?? localStorage.getItem("tether.model") ?? "demo";
    sessionId = (await client.createSession({ agent: { model, instructions: "You are a helpful assistant." } })).id;
    rememberSession(sessionId);
  }
  // The history and the resume of an active run come from one snapshot: nothing ends in between unseen.
  const transport = new TetherChatTransport({ client });
  const initial = await transport.initialMessages(sessionId);
  createRoot(document.getElementById("root")!).render(<ChatPage sessionId={sessionId} initial={initial} transport={transport} />);
}

function rememberSession(sessionId: string) {
  const url = new URL(location.href);
  url.searchParams.set("session", sessionId);
  window.history.replaceState(null, "", url);
}

main().catch((e) => {
  document.getElementById("root")!.textContent = `Could not open the session: ${(e as Error).message}`;
});
