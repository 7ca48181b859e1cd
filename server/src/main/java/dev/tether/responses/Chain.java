package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The context a response continues: every input and output item of the chain so far, as an
 * immutable persistent list. Each turn adds one segment; siblings (forks) share their parent's
 * segments, so holding many chains in memory costs only their own items.
 *
 * <p>Immutable and thread-safe.
 */
public final class Chain {
    public static final Chain EMPTY = new Chain(null, List.of());

    private final Chain parent;
    private final List<ObjectNode> segment;
    private final int size;

    private Chain(Chain parent, List<ObjectNode> segment) {
        this.parent = parent;
        this.segment = List.copyOf(segment);
        this.size = (parent == null ? 0 : parent.size) + segment.size();
    }

    public Chain append(List<ObjectNode> items) {
        return items.isEmpty() ? this : new Chain(this, items);
    }

    public int size() {
        return size;
    }

    /** All items, oldest first. */
    public List<ObjectNode> items() {
        Deque<Chain> path = new ArrayDeque<>();
        for (Chain c = this; c != null; c = c.parent) {
            path.push(c);
        }
        List<ObjectNode> all = new ArrayList<>(size);
        for (Chain c : path) {
            all.addAll(c.segment);
        }
        return all;
    }
}
