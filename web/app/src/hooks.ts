import { useEffect, useRef, useState } from "preact/hooks";
import type { ConnectionStatus, Entry, SessionState, Session, Transport } from "@tether/client";
import { client } from "./api";

export interface Followed {
  session: Session;
  state: SessionState | undefined;
  status: ConnectionStatus;
  transport: Transport | undefined;
  error: unknown;
  /** Every entry received, in order (the inspector's raw log). */
  entries: Entry[];
}

/**
 * Follows a session live: folds its log into state, re-rendering at most once per frame, acks what
 * the user has seen while the tab is visible, and reports `away` while it is hidden.
 */
export function useSession(id: string, options: { keepEntries?: boolean; ack?: boolean } = {}): Followed {
  const [, setTick] = useState(0);
  const ref = useRef<Followed | undefined>(undefined);
  if (!ref.current || ref.current.session.id !== id) {
    ref.current = { session: client.session(id), state: undefined, status: "connecting", transport: undefined, error: undefined, entries: [] };
  }
  const followed = ref.current;
  useEffect(() => {
    let frame = 0;
    const render = () => {
      if (!frame) frame = requestAnimationFrame(() => ((frame = 0), setTick((t) => t + 1)));
    };
    const follower = followed.session.follow(
      (state) => {
        followed.state = state;
        render();
      },
      {
        onEntry: options.keepEntries ? (entry) => void followed.entries.push(entry) : undefined,
        onReset: () => void (followed.entries.length = 0),
        onStatus: (status, info) => {
          followed.status = status;
          followed.transport = info.transport;
          followed.error = info.error;
          render();
        },
      },
    );
    followed.state = follower.state;
    const subscription = follower.subscription;
    let acked = "";
    const ack = options.ack
      ? setInterval(() => {
          const offset = subscription.offset;
          if (document.visibilityState === "visible" && offset !== acked && offset !== "-1" && subscription.connection.status === "open") {
            acked = offset;
            followed.session.ack(offset).catch(() => (acked = ""));
          }
        }, 1000)
      : undefined;
    const visibility = () => void followed.session.presence(document.visibilityState === "visible" ? "online" : "away").catch(() => {});
    document.addEventListener("visibilitychange", visibility);
    return () => {
      clearInterval(ack);
      document.removeEventListener("visibilitychange", visibility);
      cancelAnimationFrame(frame);
      follower.close();
    };
  }, [id]);
  return followed;
}

/** Re-runs `load` every `ms` while mounted; returns its latest result. */
export function usePoll<T>(load: () => Promise<T>, ms: number): { value: T | undefined; error: unknown } {
  const [result, setResult] = useState<{ value: T | undefined; error: unknown }>({ value: undefined, error: undefined });
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        const value = await load();
        if (live) setResult({ value, error: undefined });
      } catch (error) {
        if (live) setResult((r) => ({ value: r.value, error }));
      }
      if (live) timer = setTimeout(tick, ms);
    };
    void tick();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, []);
  return result;
}
