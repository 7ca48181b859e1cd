/** The HTTP side: one place that adds the token, refreshes it once on a 401 and turns errors into {@link TetherError}. */

/** A token, or a function that returns the current one (called again when the server says it expired). */
export type TokenSource = string | (() => string | Promise<string>) | undefined;

/** An error answer from Tether: the HTTP status and the OpenAI-style error body. */
export class TetherError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly param: string | null;
  readonly body: unknown;

  constructor(status: number, body: unknown, fallback: string) {
    const error = (body as { error?: { message?: string; code?: string; param?: string } } | null)?.error;
    super(error?.message ?? fallback);
    this.name = "TetherError";
    this.status = status;
    this.code = error?.code ?? null;
    this.param = error?.param ?? null;
    this.body = body;
  }
}

export interface HttpOptions {
  baseUrl: string;
  token: TokenSource;
  fetch: typeof fetch;
}

export class Http {
  private cached: string | undefined;

  constructor(private readonly options: HttpOptions) {}

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  /** The current token (from the cache, or the source); `fresh` asks the source again. */
  async token(fresh = false): Promise<string | undefined> {
    const source = this.options.token;
    if (source === undefined || typeof source === "string") return source;
    if (fresh || this.cached === undefined) this.cached = await source();
    return this.cached;
  }

  /** A URL for a WebSocket or SSE connection, with the token as `access_token` (browsers cannot set headers there). */
  async streamUrl(path: string, query: Record<string, string>, fresh = false): Promise<string> {
    const url = new URL(path, this.options.baseUrl);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const token = await this.token(fresh);
    if (token) url.searchParams.set("access_token", token);
    return url.toString();
  }

  /** Sends a request; a 401 gets one retry with a fresh token. Resolves to the parsed JSON body (null when empty). */
  async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.send(method, path, body, signal);
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  async send(method: string, path: string, body?: unknown, signal?: AbortSignal, accept?: string): Promise<Response> {
    let response = await this.attempt(method, path, body, signal, false, accept);
    if (response.status === 401 && typeof this.options.token === "function") {
      response = await this.attempt(method, path, body, signal, true, accept);
    }
    if (!response.ok) {
      const text = await response.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
      throw new TetherError(response.status, parsed, `${method} ${path}: HTTP ${response.status}`);
    }
    return response;
  }

  private async attempt(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    fresh: boolean,
    accept?: string,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    const token = await this.token(fresh);
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    if (accept) headers.accept = accept;
    return this.options.fetch(new URL(path, this.options.baseUrl), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  }
}
