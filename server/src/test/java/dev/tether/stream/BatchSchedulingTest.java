package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.testing.ManualClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer runs under {@code SCHED_BATCH} while writes queue up and under {@code SCHED_OTHER}
 * otherwise (see {@link BatchScheduling}). The policy is read back from the kernel: field 41 of
 * {@code /proc/thread-self/stat}.
 */
@Timeout(60)
class BatchSchedulingTest {
    private static final int SCHED_OTHER = 0;
    private static final int SCHED_BATCH = 3;

    @TempDir
    Path dir;

    private StreamEngine engine;

    @Test
    void theWriterIsUnderBatchSchedulingForABusyGroupCommitAndBackToNormalForALoneWrite() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/thread-self/stat")), "Linux only");
        RecordingStore store = new RecordingStore(SqliteStreamStore.open(dir, null));
        engine = new StreamEngine(store, new ManualClock(1_800_000_000_000L), EngineSettings.defaults());
        try {
            assertInstanceOf(
                    CreateResult.Created.class,
                    engine.create(new CreateRequest("s", "text/plain", null, null, false, List.of(), null))
                            .toCompletableFuture()
                            .get(10, TimeUnit.SECONDS));
            // Hold the writer in the commit of one append while twenty more queue up behind it.
            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            List<String> seen = new CopyOnWriteArrayList<>(); // the committing thread and its policy, per commit
            store.beforeCommit(() -> {
                seen.add(Thread.currentThread().getName() + " " + ownPolicy());
                if (held.getCount() > 0) {
                    held.countDown();
                    await(release);
                }
            });
            CompletableFuture<AppendResult> first = append("first");
            assertTrue(held.await(10, TimeUnit.SECONDS), "the first append's commit started");
            List<CompletableFuture<AppendResult>> queued = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                queued.add(append("queued-" + i));
            }
            release.countDown();
            first.get(10, TimeUnit.SECONDS);
            for (CompletableFuture<AppendResult> f : queued) {
                assertInstanceOf(AppendResult.Appended.class, f.get(10, TimeUnit.SECONDS));
            }
            append("alone").get(10, TimeUnit.SECONDS);

            assertEquals(
                    List.of(
                            "tether-writer " + SCHED_OTHER, // one append: a light load
                            "tether-writer " + SCHED_BATCH, // the twenty that queued: one group commit
                            "tether-writer " + SCHED_OTHER), // a lone append again
                    seen,
                    "each commit ran under the policy its group commit's size calls for");
        } finally {
            engine.close();
        }
    }

    @Test
    void aThreadMovesBetweenThePoliciesAndOtherThreadsKeepTheirs() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/thread-self/stat")), "Linux only");
        List<Integer> policies = new ArrayList<>();
        Thread t = Thread.ofPlatform().start(() -> {
            BatchScheduling scheduling = new BatchScheduling();
            policies.add(ownPolicy());
            scheduling.took(BatchScheduling.BUSY_BATCH);
            policies.add(ownPolicy());
            scheduling.took(BatchScheduling.BUSY_BATCH * 10);
            policies.add(ownPolicy());
            scheduling.took(BatchScheduling.BUSY_BATCH - 1);
            policies.add(ownPolicy());
        });
        t.join();
        assertEquals(List.of(SCHED_OTHER, SCHED_BATCH, SCHED_BATCH, SCHED_OTHER), policies);
        assertEquals(SCHED_OTHER, ownPolicy(), "the test's own thread is untouched");
    }

    private CompletableFuture<AppendResult> append(String message) {
        return engine.append(new AppendRequest(
                        "s", "text/plain", List.of(message.getBytes(StandardCharsets.UTF_8)), false, null, null))
                .toCompletableFuture();
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Field 41 of {@code stat} (proc(5)): the 39th after the closing parenthesis of the name. */
    private static int ownPolicy() {
        try {
            String stat = Files.readString(Path.of("/proc/thread-self/stat"));
            return Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[38]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
