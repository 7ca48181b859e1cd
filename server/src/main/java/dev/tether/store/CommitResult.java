package dev.tether.store;

import java.util.List;

/** What became of a {@link Commit}. */
public sealed interface CommitResult {
    /** Every precondition held and every mutation applied. */
    record Committed() implements CommitResult {}

    /** These preconditions did not hold; nothing was applied. */
    record Conflict(List<Precondition> failed) implements CommitResult {
        public Conflict {
            failed = List.copyOf(failed);
            if (failed.isEmpty()) {
                throw new IllegalArgumentException("a conflict names what failed");
            }
        }
    }

    CommitResult COMMITTED = new Committed();
}
