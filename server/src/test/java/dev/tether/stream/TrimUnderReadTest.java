package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.Mutation;
import dev.tether.store.StoreException;
import dev.tether.testing.ManualClock;
import dev.tether.testing.MemoryStoreWrapper;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A trim reaches the store when it is committed, and readers see the stream's new start only once
 * the writer publishes it, after the flush. A read in between, from the old start, finds the store
 * starting later: that is 410 Gone (the data was trimmed), not 400 "not at a message boundary".
 */
class TrimUnderReadTest {
    /** A store whose flush of a commit that trims waits until {@link #release} opens. */
    private static final class HeldTrimFlush extends MemoryStoreWrapper {
        final CountDownLatch flushing = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        private volatile boolean trimCommitted;

        @Override
        public CommitResult commit(Commit commit) throws StoreException {
            CommitResult result = super.commit(commit);
            trimCommitted |= commit.apply().stream().anyMatch(m -> m instanceof Mutation.TrimMessages);
            return result;
        }

        @Override
        public void sync() {
            if (trimCommitted) {
                trimCommitted = false;
                flushing.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void aReadBetweenATrimsCommitAndItsPublicationIsGone() throws Exception {
        HeldTrimFlush store = new HeldTrimFlush();
        // No recent window: reads go to the store. Retention keeps 64 bytes of each stream.
        try (StreamEngine engine = new StreamEngine(
                store,
                new ManualClock(1_800_000_000_000L),
                EngineSettings.defaults().withRetainBytes(64).withRecentWindowBytes(0))) {
            get(engine.create(new CreateRequest("s", "text/plain", null, null, false, List.of(), null)));
            List<byte[]> five = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                five.add(("msg" + i).repeat(5).getBytes(StandardCharsets.UTF_8)); // 20 bytes each
            }
            get(engine.append(new AppendRequest("s", "text/plain", five, false, null, null))); // one commit
            CompletionStage<Integer> sweep;
            try {
                sweep = engine.sweepExpired(); // trims to 40 (or the once-a-second sweep does, first)
                assertTrue(store.flushing.await(10, TimeUnit.SECONDS), "the trim is committed, its flush held");
                ReadResult during = get(engine.read("s", ReadFrom.START)); // from 0, as the old record says
                assertInstanceOf(Rejection.Gone.class, during, "the store starts at 40 now: " + during);
            } finally {
                store.release.countDown();
            }
            get(sweep); // after the trim's publication, whichever sweep made it
            ReadResult.Data after = assertInstanceOf(ReadResult.Data.class, get(engine.read("s", ReadFrom.START)));
            assertEquals(40, after.from(), "published: reads start at the new start");
            assertEquals(3, after.messages().size());
            assertEquals(40, after.messages().getFirst().position());
        }
    }
}
