package dev.tether.store.log;

import dev.tether.store.Commit;
import dev.tether.store.Mutation;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamStoreContract;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * The log store's group commit on its own, without HTTP: one thread commits batches of appends,
 * another syncs them, the next batch written while the last one is being synced (a pipeline one
 * batch deep, as the engine ran until 2026-12-06; it now flushes on its writer thread). Rounds
 * alternate between plain segments and zero-filled ones ({@code --log-preallocate}), each on a
 * fresh log that is first filled past its first segment, so that every measured sync is in a
 * segment of the kind being measured ({@code --prefill-mb}: this much log first, untimed, so that
 * the checkpoints in the window carry that much retained data). Besides the syncs it times each
 * commit: the writer's own stalls (a roll, a checkpoint). Prints a markdown table. Run through
 * {@code bench/storage/run.sh}.
 */
public final class GroupCommitBench {
    /** Leave each round's log in place (its directory is printed), for {@code --reopen}. */
    private static boolean keep;

    private record Round(
            boolean preallocated,
            double appendsPerSecond,
            long[] syncNanos,
            long[] commitNanos,
            long checkpoints,
            long readBytes,
            double reopenMillis) {
        double percentile(double p) {
            return percentile(syncNanos, p);
        }

        static double percentile(long[] sorted, double p) {
            return sorted[(int) Math.min(sorted.length - 1, Math.floor(sorted.length * p))] / 1e6;
        }
    }

    public static void main(String[] args) throws Exception {
        int rounds = 6;
        int seconds = 10;
        int batch = 64;
        int size = 256;
        long pauseMicros = 0;
        long prefillBytes = 0;
        String segments = "both";
        keep = false;
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        for (int i = 0; i < args.length; i += 2) {
            String value = args[i + 1];
            switch (args[i]) {
                case "--rounds" -> rounds = Integer.parseInt(value);
                case "--seconds" -> seconds = Integer.parseInt(value);
                case "--batch" -> batch = Integer.parseInt(value);
                case "--size" -> size = Integer.parseInt(value);
                case "--pause-us" -> pauseMicros = Long.parseLong(value);
                case "--dir" -> parent = Path.of(value);
                case "--keep" -> keep = Boolean.parseBoolean(value);
                case "--reopen" -> {
                    // Recovery in a JVM that has run nothing else (a start after a crash): open a
                    // log that --keep left, print the time, exit.
                    long started = System.nanoTime();
                    LogStreamStore store = LogStreamStore.open(Path.of(value), null, true);
                    double millis = (System.nanoTime() - started) / 1e6;
                    System.gc(); // what stays is what the open log holds (its indexes' newest chunks, mostly)
                    long heap = java.lang.management.ManagementFactory.getMemoryMXBean()
                            .getHeapMemoryUsage()
                            .getUsed();
                    System.out.printf(
                            Locale.ROOT,
                            "reopened %s in %.0f ms; heap in use with it open, after a full collection: %.1f MB%n",
                            value,
                            millis,
                            heap / 1e6);
                    store.close();
                    return;
                }
                case "--prefill-mb" -> prefillBytes = Long.parseLong(value) << 20;
                case "--segments" -> segments = value;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        List<Round> done = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            boolean preallocate =
                    switch (segments) {
                        case "both" -> r % 2 == 1;
                        case "plain" -> false;
                        case "zero-filled" -> true;
                        default -> throw new IllegalArgumentException("--segments is both, plain or zero-filled");
                    };
            Round round = round(parent, preallocate, seconds, batch, size, pauseMicros, prefillBytes);
            done.add(round);
            System.err.printf(
                    Locale.ROOT,
                    "round %d, %s: %.0f appends/s, sync p50 %.3f ms%n",
                    r + 1,
                    preallocate ? "zero-filled" : "plain",
                    round.appendsPerSecond(),
                    round.percentile(0.5));
        }
        System.out.println(
                "| Round | Segments | Appends/s | Syncs | Sync p50 | p90 | p99 | max | Commit p99 | Commit max"
                        + " | Checkpoints | Read from disk | Reopen |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (int r = 0; r < done.size(); r++) {
            Round x = done.get(r);
            System.out.printf(
                    Locale.ROOT,
                    "| %d | %s | %,.0f | %,d | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %d | %.1f MB"
                            + " | %.0f ms |%n",
                    r + 1,
                    x.preallocated() ? "zero-filled" : "plain",
                    x.appendsPerSecond(),
                    x.syncNanos().length,
                    x.percentile(0.5),
                    x.percentile(0.9),
                    x.percentile(0.99),
                    x.percentile(1),
                    Round.percentile(x.commitNanos(), 0.99),
                    Round.percentile(x.commitNanos(), 1),
                    x.checkpoints(),
                    x.readBytes() / 1e6,
                    x.reopenMillis());
        }
    }

    private static Round round(
            Path parent, boolean preallocate, int seconds, int batch, int size, long pauseMicros, long prefillBytes)
            throws Exception {
        Path dir = Files.createTempDirectory(parent, "group-commit-bench");
        ExecutorService syncer = Executors.newSingleThreadExecutor();
        Round round;
        LogStreamStore store = LogStreamStore.open(dir, null, preallocate);
        try {
            List<Mutation> creates = new ArrayList<>();
            for (int s = 1; s <= 100; s++) {
                creates.add(new Mutation.PutStream(StreamStoreContract.stream(s, "s" + s)));
            }
            store.commit(Commit.unconditional(creates));
            long[] tails = new long[101];
            byte[] data = new byte[size];
            List<Long> syncs = new ArrayList<>();
            List<Long> commits = new ArrayList<>();
            long checkpointsBefore = 0;
            Future<?> inFlight = CompletableFuture.completedFuture(null);
            long measuredFrom = -1;
            long readBefore = 0;
            long end = Long.MAX_VALUE;
            long appends = 0;
            for (int k = 0; System.nanoTime() < end; ) {
                if (measuredFrom < 0
                        && segments(dir) > 1 // past the first segment: measure from here
                        && (long) k * size >= prefillBytes) {
                    checkpointsBefore = store.checkpoints();
                    measuredFrom = System.nanoTime();
                    readBefore = readBytes();
                    end = measuredFrom + seconds * 1_000_000_000L;
                }
                List<Mutation> appendsOfBatch = new ArrayList<>(batch);
                for (int i = 0; i < batch; i++, k++) {
                    int s = 1 + k % 100;
                    appendsOfBatch.add(new Mutation.AppendMessages(s, List.of(new StoredMessage(tails[s], data))));
                    tails[s] += size;
                }
                long started = System.nanoTime();
                store.commit(Commit.unconditional(appendsOfBatch));
                boolean measured = measuredFrom >= 0;
                if (measured) {
                    commits.add(System.nanoTime() - started);
                }
                inFlight.get();
                appends += measured ? batch : 0;
                inFlight = syncer.submit(() -> {
                    long t = System.nanoTime();
                    sync(store);
                    if (measured) {
                        synchronized (syncs) {
                            syncs.add(System.nanoTime() - t);
                        }
                    }
                });
                if (pauseMicros > 0 && measured) {
                    LockSupport.parkNanos(pauseMicros * 1000);
                }
            }
            inFlight.get();
            round = new Round(
                    preallocate,
                    appends / (double) seconds,
                    sorted(syncs),
                    sorted(commits),
                    store.checkpoints() - checkpointsBefore,
                    readBytes() - readBefore,
                    0);
            store.close();
            long started = System.nanoTime(); // recovery with that much log (in the page cache)
            LogStreamStore.open(dir, null, preallocate).close();
            double reopenMillis = (System.nanoTime() - started) / 1e6;
            return new Round(
                    round.preallocated(),
                    round.appendsPerSecond(),
                    round.syncNanos(),
                    round.commitNanos(),
                    round.checkpoints(),
                    round.readBytes(),
                    reopenMillis);
        } finally {
            store.close();
            syncer.shutdown();
            if (keep) {
                System.err.println("kept the log in " + dir);
            } else {
                try (Stream<Path> files = Files.walk(dir)) {
                    for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                        Files.delete(p);
                    }
                }
            }
        }
    }

    private static long[] sorted(List<Long> nanos) {
        long[] sorted = nanos.stream().mapToLong(Long::longValue).toArray();
        Arrays.sort(sorted);
        return sorted;
    }

    private static void sync(LogStreamStore store) {
        try {
            store.sync();
        } catch (StoreException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What this process has read from the disk (not the page cache) so far: Linux's /proc/self/io. */
    private static long readBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/io"))) {
            if (line.startsWith("read_bytes:")) {
                return Long.parseLong(line.substring("read_bytes:".length()).trim());
            }
        }
        return 0;
    }

    private static long segments(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir.resolve("log"))) {
            return files.filter(p -> p.toString().endsWith(".seg")).count();
        }
    }
}
