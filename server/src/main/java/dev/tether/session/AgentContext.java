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

    /** The keys of what is pending now, and the items to send. */
    Map<String, ObjectNode> pending() {
        return new LinkedHashMap<>(pending);
    }

    String lastResponseId() {
        return lastResponseId;
    }

    void responded(String responseId) {
        lastResponseId = responseId;
    }

    static ArrayNode keys(Map<String, ObjectNode> taken) {
        ArrayNode a = Entry.JSON.createArrayNode();
        taken.keySet().forEach(a::add);
        return a;
    }
}
