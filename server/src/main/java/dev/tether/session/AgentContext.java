package dev.tether.session;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the built-in agent has not heard yet: the session's messages (and steer inputs) since its
 * last turn, as Responses API input items, and the response its next turn continues. Derived from
 * the log alone, so a session loaded after a restart continues where it was (rule 6: on return
 * the agent's next turn includes everything said while a human held the floor).
 *
 * <p>Confined to the session's lock.
 */
final class AgentContext {
    private final Map<String, ObjectNode> pending = new LinkedHashMap<>();
    private String lastResponseId;

    void observe(Entry e, Session s) {
        ObjectNode v = e.value();
        switch (e.type()) {
            case "message" -> {
                if (e.operation().equals("insert")) {
                    message(e.key(), v, s);
                }
            }
            case "signal" -> {
                if (v.path("kind").asText().equals("steer")
                        && v.path("outcome").asText().equals("applied")) {
                    pending.put(e.key(), item("user", v.path("input").asText()));
                }
            }
            case "tool_call" -> {
                String status = v.path("status").asText();
                ObjectNode run = s.state().get("run", v.path("run_id").asText());
                boolean builtIn = run != null && run.path("agent").asText().equals(Actor.BUILT_IN_AGENT.id());
                // a settled call's output goes to the model's next turn, unless its run failed (then
                // its response is not continued, and an output without its call is refused)
                if (builtIn
                        && (status.equals("completed") || status.equals("denied"))
                        && !run.path("status").asText().equals("failed")) {
                    ObjectNode out = Entry.JSON.createObjectNode();
                    out.put("type", "function_call_output");
                    out.put("call_id", e.key());
                    out.put("output", v.path("output").asText());
                    pending.put(e.key(), out);
                }
            }
            case "run" -> {
                if (v.path("context").isArray()) {
                    v.path("context").forEach(k -> pending.remove(k.asText()));
                }
                String status = v.path("status").asText();
                if (!v.path("response_id").isNull()
                        && v.has("response_id")
                        && RunBook.TERMINAL.contains(status)
                        && !status.equals("failed")) {
                    lastResponseId = v.path("response_id").asText();
                }
            }
            default -> {}
        }
    }

    private void message(String key, ObjectNode v, Session s) {
        String role = v.path("role").asText();
        String content = v.path("content").asText();
        if (v.path("visibility").asText().equals("operators")) {
            pending.put(key, item("developer", "Operator note (not shown to the user): " + content));
        } else if (role.equals("user")) {
            pending.put(key, item("user", content));
        } else if (role.equals("operator")) {
            String name = v.path("actor").path("id").asText();
            pending.put(key, item("developer", "A human operator (" + name + ") said to the user: " + content));
        }
    }

    private static ObjectNode item(String role, String content) {
        ObjectNode i = Entry.JSON.createObjectNode();
        i.put("type", "message");
        i.put("role", role);
        i.put("content", content);
        return i;
    }

    /**
     * What a turn answering {@code trigger} hears: tool outputs first (they answer the calls its
     * parent ended with), then messages up to and including the trigger — later ones are for the
     * runs queued behind it — or all of them when the trigger was heard already (a continuation,
     * a steer's successor).
     */
    Map<String, ObjectNode> take(String trigger) {
        Map<String, ObjectNode> out = new LinkedHashMap<>();
        pending.forEach((k, v) -> {
            if (v.path("type").asText().equals("function_call_output")) {
                out.put(k, v);
            }
        });
        boolean bounded = trigger != null && pending.containsKey(trigger);
        for (var e : pending.entrySet()) {
            if (!out.containsKey(e.getKey())) {
                out.put(e.getKey(), e.getValue());
                if (bounded && e.getKey().equals(trigger)) {
                    break;
                }
            }
        }
        return out;
    }

    boolean pending(String key) {
        return pending.containsKey(key);
    }

    String lastResponseId() {
        return lastResponseId;
    }

    static ArrayNode keys(Map<String, ObjectNode> taken) {
        ArrayNode a = Entry.JSON.createArrayNode();
        taken.keySet().forEach(a::add);
        return a;
    }
}
