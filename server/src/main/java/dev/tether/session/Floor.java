package dev.tether.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Who answers the user (SESSIONS.md rule 6): the agent ({@code mode: agent}), a human ({@code
 * human}: the agent starts no run) or the agent under a supervisor ({@code supervised}). Taking
 * the floor cancels the agent's active runs; returning it lets the agent answer again, its next
 * turn hearing everything said meanwhile ({@link AgentContext}).
 *
 * <p>Confined to the session's lock.
 */
final class Floor {
    private final Session session;

    Floor(Session session) {
        this.session = session;
    }

    ObjectNode current() {
        return session.state().get("floor", "floor");
    }

    boolean humanHoldsFloor() {
        ObjectNode f = current();
        return f != null && f.path("mode").asText().equals("human");
    }

    Entry initial() {
        ObjectNode f = Entry.JSON.createObjectNode();
        if (session.hasBuiltInAgent()) {
            f.put("holder", Actor.BUILT_IN_AGENT.id());
        } else {
            f.putNull("holder");
        }
        f.put("mode", "agent");
        f.putNull("previous");
        f.putNull("supervisor");
        return session.entry("floor", "floor", "insert", Actor.SERVER, f);
    }

    Entry afterAgentJoined(String agentId, Actor actor) {
        ObjectNode f = session.copy("floor", "floor");
        if (f == null
                || !f.path("mode").asText().equals("agent")
                || !f.path("holder").isNull()) {
            return null;
        }
        f.put("holder", agentId);
        return session.entry("floor", "floor", "update", actor, f);
    }

    /** The agent's participant id: the built-in one, or the external agent that joined. */
    String agentId() {
        if (session.hasBuiltInAgent()) {
            return Actor.BUILT_IN_AGENT.id();
        }
        for (var it = session.state().all("participant").iterator(); it.hasNext(); ) {
            ObjectNode p = it.next();
            if (p.path("role").asText().equals("agent") && p.path("left_at").isNull()) {
                return p.path("id").asText();
            }
        }
        return null;
    }

    /** {@code take}, {@code supervise}, {@code release} or {@code return} (SESSIONS.md rule 6). */
    CompletionStage<ObjectNode> change(String principal, Role joinAs, String action, String to) {
        List<Entry> entries = new ArrayList<>();
        Actor actor = session.ensureJoined(principal, joinAs, entries);
        ObjectNode f = session.copy("floor", "floor");
        String holder = f.path("holder").isNull() ? null : f.path("holder").asText();
        switch (action) {
            case "take" -> {
                f.put("previous", holder);
                f.put("holder", to != null ? to : actor.id());
                f.put("mode", "human");
                f.putNull("supervisor");
                session.runs.signals.cancelAll(actor, "floor_taken", entries);
            }
            case "supervise" -> {
                f.put("mode", "supervised");
                f.put("supervisor", to != null ? to : actor.id());
            }
            case "release", "return" -> {
                f.put("previous", holder);
                String agentId = agentId();
                if (agentId == null) {
                    f.putNull("holder");
                } else {
                    f.put("holder", agentId);
                }
                f.put("mode", "agent");
                f.putNull("supervisor");
            }
            default ->
                throw Refusal.invalid(
                        "action", "action must be take, supervise, release or return; got '" + action + "'");
        }
        entries.add(session.entry("floor", "floor", "update", actor, f));
        CompletionStage<Void> written = session.write(entries);
        session.runs.launchReady();
        return written.thenApply(x -> f);
    }
}
