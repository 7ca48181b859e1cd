import type { AgentConfig, SessionPolicy, SessionView } from "./entities.js";
import { Http, type TokenSource } from "./http.js";
import type { WebSocketFactory } from "./connection.js";
import { Session } from "./session.js";

export interface TetherClientOptions {
  /** The server, e.g. `http://127.0.0.1:4437`. Default: the page's origin. */
  baseUrl?: string;
  /**
   * The bearer token, or a function returning it (a JWT minted by your backend through
   * `/v1/auth/tokens`). A function is called again when the server answers 401 or closes a
   * connection because the token expired. Omit in open mode.
   */
  token?: TokenSource;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Default: the global `WebSocket` (browsers, Node 22+); pass `ws` on Node 20. None: SSE only. */
  WebSocket?: WebSocketFactory;
}

export interface CreateSessionOptions {
  agent?: AgentConfig;
  policy?: Partial<SessionPolicy>;
  metadata?: Record<string, unknown>;
  /** Seconds idle before the session expires. */
  ttl?: number;
}

/** The entry point: sessions on one Tether server. */
export class TetherClient {
  private readonly http: Http;
  private readonly WebSocketImpl: WebSocketFactory | undefined;

  constructor(options: TetherClientOptions = {}) {
    const baseUrl = options.baseUrl ?? globalThis.location?.origin;
    if (!baseUrl) throw new Error("baseUrl is required outside a browser");
    this.http = new Http({ baseUrl, token: options.token, fetch: options.fetch ?? globalThis.fetch.bind(globalThis) });
    this.WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
  }

  createSession(options: CreateSessionOptions = {}): Promise<SessionView> {
    return this.http.json("POST", "/v1/sessions", options);
  }

  /** Ids of the sessions the caller may read. */
  async listSessions(): Promise<string[]> {
    return (await this.http.json<{ data: string[] }>("GET", "/v1/sessions")).data;
  }

  /** The views of the sessions the caller may read, in one request (an operator's list). */
  async listSessionViews(): Promise<SessionView[]> {
    return (await this.http.json<{ sessions: SessionView[] }>("GET", "/v1/sessions?expand=view")).sessions;
  }

  deleteSession(id: string): Promise<unknown> {
    return this.http.json("DELETE", `/v1/sessions/${encodeURIComponent(id)}`);
  }

  session(id: string): Session {
    return new Session(this.http, id, this.WebSocketImpl);
  }
}
