import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { TetherError } from "@tether/client";
import { client, currentToken, setToken, tokenSubject } from "./api";
import { useSession } from "./hooks";
import { Chat } from "./views/Chat";
import { OperatorSession, SessionList } from "./views/Operator";
import { Inspector } from "./views/Inspector";
import "./style.css";

type Route = { view: "home" } | { view: "chat" | "operator-session" | "inspect"; id: string } | { view: "operator" };

function parse(hash: string): Route {
  const parts = hash.split("?")[0].replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "chat" && parts[1]) return { view: "chat", id: parts[1] };
  if (parts[0] === "operator") return parts[1] ? { view: "operator-session", id: parts[1] } : { view: "operator" };
  if (parts[0] === "inspect" && parts[1]) return { view: "inspect", id: parts[1] };
  return { view: "home" };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

function Home() {
  const [error, setError] = useState("");
  const [model, setModel] = useState(() => localStorage.getItem("tether.model") ?? "demo");
  const start = async () => {
    try {
      localStorage.setItem("tether.model", model);
      const view = await client.createSession({ agent: { model, instructions: "You are a helpful assistant. Be brief." } });
      location.hash = `#/chat/${view.id}`;
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div class="view home">
      <h2>Tether</h2>
      <p>One durable log per conversation, shared by people, devices and agents.</p>
      <label>
        Model (the name your backend serves; any name for the embedded model)
        <input data-testid="model" value={model} onInput={(e) => setModel((e.target as HTMLInputElement).value)} />
      </label>
      <div>
        <button data-testid="new-chat" onClick={() => void start()}>Start a chat</button>{" "}
        <a href="#/operator">Operator console</a> · <a href="/usechat.html">useChat sample</a>
      </div>
      {error && <div class="banner error">{error}</div>}
    </div>
  );
}

function SignIn({ reason }: { reason: string }) {
  const [token, setValue] = useState("");
  return (
    <div class="view signin">
      <h2>Sign in</h2>
      <p>{reason}</p>
      <p class="muted">
        Paste a token your backend minted with <code>POST /v1/auth/tokens</code> (or open this page with <code>#/…?token=…</code>).
      </p>
      <input data-testid="token" value={token} onInput={(e) => setValue((e.target as HTMLInputElement).value)} placeholder="eyJ…" />
      <button
        onClick={() => {
          setToken(token.trim());
          location.reload();
        }}
      >
        Use token
      </button>
    </div>
  );
}

function SessionPage({ id, view }: { id: string; view: "chat" | "operator-session" | "inspect" }) {
  const followed = useSession(id, { keepEntries: view === "inspect", ack: view === "chat" });
  if (view === "chat") return <Chat followed={followed} />;
  if (view === "operator-session") return <OperatorSession followed={followed} />;
  return <Inspector followed={followed} />;
}

function App() {
  const route = useRoute();
  // Render at once; a background check turns a refused token into the sign-in form.
  const [refused, setRefused] = useState("");
  useEffect(() => {
    currentToken();
    client.listSessions().catch((e) => {
      // 403 on the list is fine: a user token may read only its own session
      if (e instanceof TetherError && e.status === 401) setRefused(e.message);
    });
  }, []);
  if (refused) return <SignIn reason={refused} />;
  const who = tokenSubject();
  const id = "id" in route ? route.id : undefined;
  return (
    <div class="shell">
      <header>
        <a href="#/" class="brand">Tether</a>
        <nav>
          {id && <a href={`#/chat/${id}`} class={route.view === "chat" ? "on" : ""}>Chat</a>}
          <a href={id ? `#/operator/${id}` : "#/operator"} class={route.view.startsWith("operator") ? "on" : ""}>Operator</a>
          {id && <a href={`#/inspect/${id}`} class={route.view === "inspect" ? "on" : ""}>Inspector</a>}
        </nav>
        <span class="me">{who ? `signed in as ${who}` : currentToken() ? "signed in" : "open mode"}</span>
      </header>
      <main>
        {route.view === "home" && <Home />}
        {route.view === "operator" && <SessionList />}
        {"id" in route && <SessionPage id={route.id} view={route.view} key={`${route.view}:${route.id}`} />}
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
