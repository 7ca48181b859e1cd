package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Objects;

/**
 * A response as of some moment: what was asked, what the model produced so far, and how it
 * ended. Immutable; an in-flight response produces a new one per snapshot.
 *
 * @param rootId      the chain's first response (or the conversation): the backend session key
 * @param before      the context this response continued (empty for a chain's first turn)
 * @param usage       the {@code usage} object, or null until the turn finished
 * @param error       {@code {code, message}} for a failed response, or null
 * @param incomplete  the {@code incomplete_details.reason}, or null
 * @param completedAt unix seconds, or null unless completed
 * @param owner       the principal that created it: only it can read, continue, cancel or delete it
 */
public record ResponseRecord(
        String id,
        long createdAt,
        ResponseParams params,
        String rootId,
        Chain before,
        List<ObjectNode> input,
        List<ObjectNode> output,
        ResponseStatus status,
        ObjectNode usage,
        ObjectNode error,
        String incomplete,
        Long completedAt,
        String owner) {

    public ResponseRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(before, "before");
        input = List.copyOf(input);
        output = List.copyOf(output);
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(owner, "owner");
    }

    /** The context a continuation of this response starts from. */
    public Chain after() {
        return before.append(input).append(output);
    }

    ResponseRecord withBefore(Chain chain) {
        return new ResponseRecord(
                id,
                createdAt,
                params,
                rootId,
                chain,
                input,
                output,
                status,
                usage,
                error,
                incomplete,
                completedAt,
                owner);
    }

    /** Whether {@code principal} owns this response (ids are unguessable; ownership keeps them private). */
    public boolean ownedBy(String principal) {
        return owner.equals(principal);
    }

    public ObjectNode toJson() {
        return ResponseJson.render(this);
    }
}
