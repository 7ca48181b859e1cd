import { TetherClient } from "@tether/client";

const KEY = "tether.token";

/**
 * The token this tab uses: from `?token=` in the URL fragment (moved to sessionStorage and removed
 * from the address bar), else the one stored for this tab. Empty in open mode.
 */
export function currentToken(): string {
  const [path, query] = location.hash.split("?");
  const fromUrl = new URLSearchParams(query ?? "").get("token");
  if (fromUrl) {
    sessionStorage.setItem(KEY, fromUrl);
    history.replaceState(null, "", `${location.pathname}${location.search}${path}`);
  }
  return sessionStorage.getItem(KEY) ?? "";
}

export function setToken(token: string): void {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
}

/** The page's client: the server is the page's origin; the token is read again whenever the server asks. */
export const client = new TetherClient({ token: () => currentToken() });

/** The principal a JWT names (its `sub`), for "you" labels; undefined for keys and open mode. */
export function tokenSubject(): string | undefined {
  const token = currentToken();
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))).sub as string;
  } catch {
    return undefined;
  }
}
