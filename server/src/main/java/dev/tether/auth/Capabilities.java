package dev.tether.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a principal may do, Ably-style: resource patterns mapped to operations, e.g. {@code
 * {"streams/chat/*": ["read", "append"], "responses": ["*"]}}. {@code *} as an operation means
 * every operation; {@code *} as a resource means every resource. A request is allowed when any
 * grant matches both its resource and its operation.
 *
 * @param grants in document order
 */
public record Capabilities(List<Grant> grants) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_GRANTS = 256;

    /** Everything: the capability of the open (no-auth) mode. */
    public static final Capabilities ALL =
            new Capabilities(List.of(new Grant(new ResourcePattern("*"), true, Set.of())));

    public Capabilities {
        grants = List.copyOf(grants);
    }

    /**
     * One resource pattern and its operations.
     *
     * @param allOperations the document said {@code *}
     */
    public record Grant(ResourcePattern resource, boolean allOperations, Set<Operation> operations) {
        public Grant {
            operations = Set.copyOf(operations);
        }

        boolean allows(Operation op) {
            return allOperations || operations.contains(op);
        }

        /** Whether this grant allows everything {@code other} allows. */
        boolean covers(Grant other) {
            if (!resource.covers(other.resource)) {
                return false;
            }
            return allOperations || (!other.allOperations && operations.containsAll(other.operations));
        }
    }

    /**
     * Parses a capability document.
     *
     * @throws IllegalArgumentException naming what is wrong, for a config file or a request to report
     */
    public static Capabilities parse(JsonNode doc) {
        if (doc == null || !doc.isObject()) {
            throw new IllegalArgumentException(
                    "capabilities must be an object mapping resources to operations, e.g. {\"streams/chat/*\": [\"read\"]}");
        }
        if (doc.size() > MAX_GRANTS) {
            throw new IllegalArgumentException("at most " + MAX_GRANTS + " resources per capability document");
        }
        List<Grant> grants = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : doc.properties()) {
            grants.add(grant(new ResourcePattern(e.getKey()), e.getValue()));
        }
        return new Capabilities(grants);
    }

    private static Grant grant(ResourcePattern resource, JsonNode ops) {
        if (ops == null || !ops.isArray() || ops.isEmpty()) {
            throw new IllegalArgumentException("the operations of '" + resource + "' must be a non-empty array such as"
                    + " [\"read\", \"append\"] or [\"*\"]");
        }
        boolean all = false;
        Set<Operation> set = EnumSet.noneOf(Operation.class);
        for (JsonNode op : ops) {
            if (op.isTextual() && op.asText().equals("*")) {
                all = true;
                continue;
            }
            Operation parsed = op.isTextual() ? Operation.parse(op.asText()) : null;
            if (parsed == null) {
                throw new IllegalArgumentException("'" + op.asText(op.toString()) + "' on '" + resource
                        + "' is not an operation: use read, append, create, delete, join, publish, cancel, steer,"
                        + " approve, floor, audit or *");
            }
            set.add(parsed);
        }
        return new Grant(resource, all, set);
    }

    /** Whether {@code op} on the concrete {@code resource} (e.g. {@code streams/chat/42}) is allowed. */
    public boolean allows(String resource, Operation op) {
        for (Grant g : grants) {
            if (g.allows(op) && g.resource().matches(resource)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The first grant of {@code requested} that these capabilities do not cover, or null when all
     * are covered: a token minted by a key may be no wider than the key.
     */
    public Grant uncovered(Capabilities requested) {
        for (Grant wanted : requested.grants) {
            if (grants.stream().noneMatch(g -> g.covers(wanted))) {
                return wanted;
            }
        }
        return null;
    }

    /** The document form, as parsed. */
    public ObjectNode toJson() {
        ObjectNode doc = JSON.createObjectNode();
        for (Grant g : grants) {
            ArrayNode ops = doc.putArray(g.resource().glob());
            if (g.allOperations()) {
                ops.add("*");
            }
            g.operations().stream().sorted().forEach(op -> ops.add(op.wireName()));
        }
        return doc;
    }

    /** Describes one grant for an error message: {@code 'read, append' on 'streams/chat/*'}. */
    public static String describe(Grant g) {
        String ops = g.allOperations()
                ? "*"
                : String.join(
                        ", ",
                        g.operations().stream()
                                .sorted()
                                .map(Operation::wireName)
                                .toList());
        return "'" + ops + "' on '" + g.resource() + "'";
    }
}
