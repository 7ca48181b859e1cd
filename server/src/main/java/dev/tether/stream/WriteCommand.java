package dev.tether.stream;

import java.util.concurrent.CompletableFuture;

/** A unit of work for the single writer. */
sealed interface WriteCommand {

    void fail(Throwable cause);

    /** Commands that read committed data (fork points) run at the start of a fresh batch. */
    default boolean needsCommittedState() {
        return false;
    }

    record Create(CreateRequest request, CompletableFuture<CreateResult> result) implements WriteCommand {
        @Override
        public void fail(Throwable cause) {
            result.completeExceptionally(cause);
        }

        @Override
        public boolean needsCommittedState() {
            return request.fork() != null;
        }
    }

    record Append(AppendRequest request, CompletableFuture<AppendResult> result) implements WriteCommand {
        @Override
        public void fail(Throwable cause) {
            result.completeExceptionally(cause);
        }
    }

    record Delete(String path, CompletableFuture<DeleteResult> result) implements WriteCommand {
        @Override
        public void fail(Throwable cause) {
            result.completeExceptionally(cause);
        }
    }

    /** Housekeeping: expire streams whose TTL or expiry passed. */
    record Sweep(CompletableFuture<Integer> result) implements WriteCommand {
        @Override
        public void fail(Throwable cause) {
            result.completeExceptionally(cause);
        }
    }
}
