package dev.tether.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Rebuilds a session from its log. Nothing runs across a load: a run the log shows in progress
 * is ended {@code failed} ({@code server_restart}: its agent or model turn is gone), and every
 * participant's presence is {@code offline} until it reconnects — so no run stays {@code running}
 * and no device stays counted after a crash.
 */
final class SessionLoader {
    private SessionLoader() {}

    /** @param why the error code of the runs it ends: {@code server_restart}, or {@code session_reloaded} after a failed write */
    static Session load(String id, SessionContext ctx, List<byte[]> log, Runnable onBroken, String why) {
        Entry first = Entry.decode(log.get(0));
        if (!first.type().equals("session")) {
            throw new IllegalStateException("session log " + id + " does not start with its session entry");
        }
        ObjectNode v = first.value();
        ObjectNode agent = v.path("agent").isObject() ? (ObjectNode) v.get("agent") : null;
        Session s = new Session(id, ctx, SessionPolicy.parse(v.get("policy")), agent, onBroken);
        synchronized (s) {
            for (byte[] m : log) {
                s.replay(Entry.decode(m));
            }
            List<Entry> fixes = new ArrayList<>();
            for (var e : s.state().entities("run").entrySet()) {
                if (!RunBook.TERMINAL.contains(e.getValue().path("status").asText())) {
                    s.runs.restore(e.getKey(), e.getValue());
                }
            }
            for (var e : List.copyOf(s.state().entities("presence").entrySet())) {
                ObjectNode p = e.getValue();
                boolean builtIn = e.getKey().equals(Actor.BUILT_IN_AGENT.id());
                if (builtIn && !p.path("agent_status").asText().equals("idle")) {
                    ObjectNode idle = p.deepCopy();
                    idle.put("agent_status", "idle");
                    fixes.add(s.entry("presence", e.getKey(), "update", Actor.SERVER, idle));
                } else if (!builtIn
                        && (!p.path("status").asText().equals("offline")
                                || p.path("devices").asInt() != 0)) {
                    ObjectNode off = p.deepCopy();
                    off.put("status", "offline");
                    off.put("devices", 0);
                    if (off.has("agent_status")
                            && !off.path("agent_status").asText().equals("idle")) {
                        off.put("agent_status", "crashed");
                    }
                    fixes.add(s.entry("presence", e.getKey(), "update", Actor.SERVER, off));
                }
            }
            if (!fixes.isEmpty()) {
                s.write(fixes);
            }
            s.runs.failRestored(why);
        }
        return s;
    }
}
