package dev.tether.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Leased presence (SESSIONS.md rule 7): a participant is {@code online} while it has a live
 * connection (a device) or sent a heartbeat or a write within {@code presence_timeout_ms}. The
 * lease lapses on the session's tick: the participant goes {@code offline}, and an agent with a
 * run in progress is {@code crashed} and its runs fail with {@code agent_lost}. Presence entries
 * are written when something a reader can see changes (status, agent status, device count), not
 * on every heartbeat.
 *
 * <p>Confined to the session's lock.
 */
final class Presence {
    private static final Set<String> STATUSES = Set.of("online", "away", "offline");
    static final Set<String> AGENT_STATUSES = Set.of("idle", "thinking", "streaming", "waiting", "crashed");

    private final Session session;
    private final Map<String, Lease> leases = new HashMap<>();
    /** Participants whose device count changed since the last tick (written then, coalesced). */
    private final Set<String> dirty = new java.util.HashSet<>();

    /** One participant's live connections and last sign of life. */
    private static final class Lease {
        Actor actor;
        int devices;
        long lastSeen;

        Lease(Actor actor) {
            this.actor = actor;
        }
    }

    Presence(Session session) {
        this.session = session;
    }

    private long now() {
        return session.ctx().clock().millis();
    }

    /** The participant's lease, with its current role (it may have joined again as something else). */
    private Lease lease(Actor actor) {
        Lease l = leases.computeIfAbsent(actor.id(), k -> new Lease(actor));
        l.actor = actor;
        return l;
    }

    /**
     * A connection of {@code actor} opened: one more device. Coming online is written at once; a
     * changed device count of a participant already online waits for the next tick, so a thousand
     * devices connecting at once write a handful of presence entries, not a thousand.
     */
    void connected(Actor actor, List<Entry> out) {
        Lease l = lease(actor);
        l.devices++;
        l.lastSeen = now();
        ObjectNode current = session.state().get("presence", actor.id());
        if (current == null || !current.path("status").asText().equals("online")) {
            set(actor, "online", null, l.devices, out);
        } else {
            dirty.add(actor.id());
        }
    }

    /** A connection closed (gracefully or not): one device less; the lease runs from now. */
    void disconnected(Actor actor, List<Entry> out) {
        Lease l = leases.get(actor.id());
        if (l == null || l.devices == 0) {
            return;
        }
        l.devices--;
        l.lastSeen = now();
        dirty.add(actor.id());
    }

    /** A write or heartbeat by {@code actor}: renews its lease, and brings it online if it was not. */
    void touch(Actor actor, List<Entry> out) {
        if (actor.id().equals(Actor.BUILT_IN_AGENT.id())) {
            return;
        }
        Lease l = lease(actor);
        l.lastSeen = now();
        ObjectNode current = session.state().get("presence", actor.id());
        if (current == null || !current.path("status").asText().equals("online")) {
            set(actor, "online", null, l.devices, out);
        }
    }

    /** {@code POST …/presence}: an explicit status and, for agents, an agent status. */
    void heartbeat(Actor actor, String status, String agentStatus, List<Entry> out) {
        if (status != null && !STATUSES.contains(status)) {
            throw dev.tether.errors.Refusal.invalid("status", "status must be online, away or offline");
        }
        if (agentStatus != null && !AGENT_STATUSES.contains(agentStatus)) {
            throw dev.tether.errors.Refusal.invalid("agent_status", "agent_status must be one of " + AGENT_STATUSES);
        }
        Lease l = lease(actor);
        l.lastSeen = now();
        set(actor, status == null ? "online" : status, agentStatus, l.devices, out);
    }

    /** The agent's working state (thinking, streaming, idle, …), written when it changes. */
    void agentStatus(Actor agent, String agentStatus, List<Entry> out) {
        set(agent, agent.id().equals(Actor.BUILT_IN_AGENT.id()) ? "online" : null, agentStatus, null, out);
    }

    void left(String participant, Actor by, List<Entry> out) {
        Lease l = leases.remove(participant);
        dirty.remove(participant);
        ObjectNode current = session.state().get("presence", participant);
        if (current != null && !current.path("status").asText().equals("offline")) {
            ObjectNode v = current.deepCopy();
            v.put("status", "offline");
            v.put("devices", 0);
            out.add(session.entry("presence", participant, "update", by, v));
        }
        if (l != null) {
            l.devices = 0;
        }
    }

    /** Live connections of every participant. */
    int devices() {
        int n = 0;
        for (Lease l : leases.values()) {
            n += l.devices;
        }
        return n;
    }

    /** Live connections of user-role participants: who the session is streaming to. */
    int userDevices() {
        int n = 0;
        for (Lease l : leases.values()) {
            if (l.actor.role().equals(Role.USER.wire())) {
                n += l.devices;
            }
        }
        return n;
    }

    /** Lapses leases whose last sign of life is older than the presence timeout. */
    void tick(long now, List<Entry> out) {
        for (String id : dirty) {
            Lease l = leases.get(id);
            if (l != null) {
                set(l.actor, null, null, l.devices, out);
            }
        }
        dirty.clear();
        long timeout = session.policy().presenceTimeoutMs();
        for (Lease l : leases.values()) {
            if (l.devices > 0 || now - l.lastSeen <= timeout) {
                continue;
            }
            ObjectNode current = session.state().get("presence", l.actor.id());
            boolean agentWorking = l.actor.role().equals(Role.AGENT.wire()) && session.runs.activeFor(l.actor.id());
            // an agent that said it is offline still loses its runs when its lease lapses (rule 7)
            if (!agentWorking
                    && (current == null || current.path("status").asText().equals("offline"))) {
                continue;
            }
            set(l.actor, Actor.SERVER, "offline", agentWorking ? "crashed" : null, 0, out);
            if (agentWorking) {
                session.runs.agentLost(l.actor.id(), out);
            }
        }
    }

    /** Writes a presence entry when any of the given (non-null) fields changes. */
    private void set(Actor actor, String status, String agentStatus, Integer devices, List<Entry> out) {
        set(actor, actor, status, agentStatus, devices, out);
    }

    private void set(Actor actor, Actor by, String status, String agentStatus, Integer devices, List<Entry> out) {
        ObjectNode current = session.state().get("presence", actor.id());
        String operation = current == null ? "insert" : "update";
        // a change already queued in this write wins over the applied state
        for (Entry e : out) {
            if (e.type().equals("presence") && e.key().equals(actor.id())) {
                current = e.value();
            }
        }
        ObjectNode v = current == null ? Entry.JSON.createObjectNode() : current.deepCopy();
        boolean changed = current == null;
        changed |= status != null && !status.equals(v.path("status").asText(null));
        changed |= agentStatus != null
                && !agentStatus.equals(v.path("agent_status").asText(null));
        changed |= devices != null && devices != v.path("devices").asInt(-1);
        if (!changed) {
            return;
        }
        v.put("participant", actor.id());
        v.put("status", status != null ? status : v.path("status").asText("online"));
        if (agentStatus != null) {
            v.put("agent_status", agentStatus);
        } else if (actor.role().equals(Role.AGENT.wire()) && !v.has("agent_status")) {
            v.put("agent_status", "idle");
        }
        v.put("devices", devices != null ? devices : v.path("devices").asInt(0));
        v.put("last_seen_at", session.ctx().now());
        Entry e = session.entry("presence", actor.id(), operation, by, v);
        out.removeIf(x -> x.type().equals("presence") && x.key().equals(actor.id()));
        out.add(e);
    }
}
