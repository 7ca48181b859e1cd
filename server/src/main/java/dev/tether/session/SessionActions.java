package dev.tether.session;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.auth.Operation;
import dev.tether.auth.Principal;
import dev.tether.errors.Refusal;
import dev.tether.stream.Offset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Every client action on a session, with the capability it needs (SESSIONS.md rule 9), shared
 * by the HTTP routes and the session WebSocket so both mean the same thing. The acting
 * participant is always the verified principal; nothing in a body can name another.
 *
 * <p>Capabilities on {@code sessions/<id>}: {@code join} to join, leave and send presence;
 * {@code publish} to post messages, write runs (agents) and tool outputs; {@code cancel}, {@code
 * steer}, {@code approve} and {@code floor} for those signals (whispers and joining as an operator
 * need {@code floor}; joining as an agent needs {@code publish}); {@code read} to read and ack.
 *
 * <p>Stateless.
 */
public final class SessionActions {
    private SessionActions() {}

    /** The capability resource of a session. */
    public static String resource(String sessionId) {
        return SessionService.RESOURCE + sessionId;
    }

    /**
     * Performs {@code action} on {@code target} (a run, tool call or participant id, or null) for
     * {@code principal}; 403 when a capability is missing, 400 for an unknown action.
     */
    public static CompletionStage<ObjectNode> perform(
            Session s, Principal principal, String action, String target, JsonNode body) {
        try {
            return act(s, principal, action, target, body);
        } catch (RecordedRefusal r) {
            // answered once the entry recording the refusal is durable
            return r.written.handle((x, e) -> {
                throw r.refusal;
            });
        }
    }

    private static CompletionStage<ObjectNode> act(
            Session s, Principal principal, String action, String target, JsonNode body) {
        String res = resource(s.id());
        String who = principal.id();
        Role joinAs = connectRole(principal, s.id()); // for a principal that acts before it has joined
        switch (action) {
            case "join" -> {
                Role role = Role.parse(body.path("role").asText("user"));
                principal.require(res, Operation.JOIN);
                if (role == Role.OPERATOR) {
                    principal.require(res, Operation.FLOOR);
                } else if (role == Role.AGENT) {
                    principal.require(res, Operation.PUBLISH);
                }
                return s.join(who, role, Fields.string(body, "name", false));
            }
            case "leave" -> {
                principal.require(res, target.equals(who) ? Operation.JOIN : Operation.FLOOR);
                Actor by = s.actorOf(who);
                return s.leave(target, by != null ? by : new Actor(who, "operator"));
            }
            case "message" -> {
                principal.require(res, Operation.PUBLISH);
                if ("operators".equals(body.path("visibility").asText(null))) {
                    principal.require(res, Operation.FLOOR);
                }
                return s.post(who, joinAs, body);
            }
            case "run.start" -> {
                principal.require(res, Operation.PUBLISH);
                String trigger = Fields.string(body, "trigger", false);
                return s.asParticipant(who, a -> s.runs.startExternal(a, trigger));
            }
            case "run.chunks" -> {
                principal.require(res, Operation.PUBLISH);
                List<String> deltas = deltas(body);
                return s.asParticipant(who, a -> s.runs.rollup.chunks(a, target, deltas))
                        .thenApply(x -> ok());
            }
            case "run.end" -> {
                principal.require(res, Operation.PUBLISH);
                String status = Fields.string(body, "status", false);
                String error = Fields.string(body, "error", false);
                String end = status == null ? "completed" : status;
                return s.asParticipant(who, a -> s.runs.endExternal(a, target, end, error));
            }
            case "run.tool_call" -> {
                principal.require(res, Operation.PUBLISH);
                return s.asParticipant(who, a -> s.runs.tools.request(a, target, body));
            }
            case "cancel" -> {
                principal.require(res, Operation.CANCEL);
                return s.asJoined(who, joinAs, a -> s.runs.signals.cancel(a, target, null));
            }
            case "steer" -> {
                principal.require(res, Operation.STEER);
                String input = Fields.string(body, "input", true);
                return s.asJoined(who, joinAs, a -> s.runs.signals.steer(a, target, input));
            }
            case "approve", "deny" -> {
                principal.require(res, Operation.APPROVE);
                String reason = Fields.string(body, "reason", false);
                boolean approve = action.equals("approve");
                return s.asJoined(who, joinAs, a -> s.runs.tools.decide(a, target, approve, reason));
            }
            case "tool.output" -> {
                principal.require(res, Operation.PUBLISH);
                JsonNode out = body.get("output");
                if (out == null || out.isNull()) {
                    throw Refusal.invalid("output", "missing required field 'output'");
                }
                String output = out.isTextual() ? out.asText() : out.toString();
                return s.asJoined(who, joinAs, a -> s.runs.tools.output(a, target, output));
            }
            case "floor" -> {
                principal.require(res, Operation.FLOOR);
                return s.floor(who, joinAs, Fields.string(body, "action", true), Fields.string(body, "to", false));
            }
            case "presence" -> {
                principal.require(res, Operation.JOIN);
                return s.heartbeat(
                        who, joinAs, Fields.string(body, "status", false), Fields.string(body, "agent_status", false));
            }
            case "ack" -> {
                principal.require(res, Operation.READ);
                String offset = Fields.string(body, "offset", true);
                if (Offset.parse(offset).isEmpty()) {
                    throw Refusal.invalid(
                            "offset", "offset must be an offset this server issued (as in Stream-Next-Offset)");
                }
                return s.ack(who, joinAs, Fields.string(body, "device", false), offset);
            }
            default -> throw Refusal.invalid("type", "unknown action '" + action + "'");
        }
    }

    /** {@code {"delta": "…"}} or {@code {"deltas": ["…", …]}}. */
    private static List<String> deltas(JsonNode body) {
        List<String> out = new ArrayList<>();
        JsonNode many = body.get("deltas");
        if (many != null && many.isArray()) {
            for (JsonNode d : many) {
                if (!d.isTextual()) {
                    throw Refusal.invalid("deltas", "deltas must be an array of strings");
                }
                out.add(d.asText());
            }
        } else {
            out.add(Fields.string(body, "delta", true));
        }
        return out;
    }

    private static ObjectNode ok() {
        return Entry.JSON.createObjectNode().put("ok", true);
    }

    /**
     * The role a principal joins with when it reads, posts or signals without having joined: an
     * operator when it holds {@code floor} on the session, a user otherwise.
     */
    public static Role connectRole(Principal principal, String sessionId) {
        // open mode's one anonymous principal holds every capability, yet is everyone's browser
        return principal.kind() != Principal.Kind.ANONYMOUS
                        && principal.capabilities().allows(resource(sessionId), Operation.FLOOR)
                ? Role.OPERATOR
                : Role.USER;
    }
}
