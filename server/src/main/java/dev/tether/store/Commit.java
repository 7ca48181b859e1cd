package dev.tether.store;

import java.util.List;

/** One atomic write: the {@link Precondition}s it was decided on, and the {@link Mutation}s it applies. */
public record Commit(List<Precondition> expect, List<Mutation> apply) {
    public Commit {
        expect = List.copyOf(expect);
        apply = List.copyOf(apply);
    }

    /** A write decided by the only writer of the store (one node): nothing to check. */
    public static Commit unconditional(List<Mutation> apply) {
        return new Commit(List.of(), apply);
    }
}
