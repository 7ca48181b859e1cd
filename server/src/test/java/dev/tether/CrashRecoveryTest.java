package dev.tether;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tether.testing.ServerProcess;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Black-box crash test of idempotent producers (Durable Streams §5.2.1): concurrent producers
 * append while the server, a child JVM, is killed with SIGKILL several times and restarted on
 * the same data directory. A producer resends an unacknowledged append with the same
 * Producer-Seq until it is acknowledged, so an append that was made durable just before a kill
 * must come back as a 204 duplicate rather than a second copy.
 *
 * <p>Kill times come from a fixed seed, but where a kill lands is up to the scheduler; the
 * assertions hold for every interleaving.
 */
class CrashRecoveryTest {
    private static final String STREAM = "/v1/stream/crash";
    private static final String TYPE = "application/octet-stream";
    private static final int PRODUCERS = 4;
    private static final int KILLS_WHILE_APPENDING = 4;
    /** Acknowledged appends each producer makes against the last server it sees. */
    private static final int APPENDS_AFTER_LAST_RESTART = 20;
    /** Acknowledged appends (all producers) the server must take before it is killed again. */
    private static final int PROGRESS_BEFORE_KILL = 20;

    private static final long SEED = 20260611L;
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration PROGRESS_TIMEOUT = Duration.ofSeconds(20);
    private static final Pattern RECORD = Pattern.compile("(p\\d+):(\\d+)");

    @TempDir
    Path dir;

    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2))
            .build();
    private final List<ServerProcess> servers = new ArrayList<>();
    /** The running server's address; producers read it before every request. */
    private final AtomicReference<URI> base = new AtomicReference<>();

    private final AtomicLong acknowledged = new AtomicLong();
    private final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean killsDone = new AtomicBoolean();
    private final AtomicBoolean abandoned = new AtomicBoolean();

    @AfterEach
    void killServers() {
        servers.forEach(ServerProcess::close);
        client.close();
    }

    @Test
    @Timeout(120)
    void everyAcknowledgedAppendSurvivesRepeatedSigkillExactlyOnceInProducerOrder() throws Exception {
        try {
            Path data = dir.resolve("data");
            startServer(data);
            assertEquals(201, put().statusCode(), "the stream is created");

            List<Tally> tallies = appendThroughKills(data);
            crashAndRestart(data);
            Map<String, List<Long>> stored = readProducerRecords();
            for (Tally t : tallies) {
                assertExactlyOnceInOrder(stored, t.producer(), t.lastAcknowledged());
            }
            for (Tally t : tallies) {
                assertProducerStateSurvived(t.producer(), t.lastAcknowledged());
            }
            Map<String, List<Long>> afterProbes = readProducerRecords();
            for (Tally t : tallies) {
                assertExactlyOnceInOrder(afterProbes, t.producer(), t.lastAcknowledged() + 1);
            }
            assertKillsHappened(tallies);
        } catch (Throwable t) {
            for (ServerProcess s : servers) {
                System.err.println("--- server pid " + s.pid() + " (" + s.log() + ") ---\n" + s.output());
            }
            throw t;
        }
    }

    /**
     * Runs the producers, kills the server {@link #KILLS_WHILE_APPENDING} times while they
     * append (each time after it has acknowledged some appends), then lets each producer make
     * {@link #APPENDS_AFTER_LAST_RESTART} more against the last server.
     */
    private List<Tally> appendThroughKills(Path data) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(PRODUCERS);
        try {
            List<Future<Tally>> running = new ArrayList<>();
            for (int i = 0; i < PRODUCERS; i++) {
                running.add(pool.submit(new Producer("p" + i)));
            }
            Random random = new Random(SEED);
            for (int k = 0; k < KILLS_WHILE_APPENDING; k++) {
                awaitProgress(acknowledged.get() + PROGRESS_BEFORE_KILL);
                Thread.sleep(300 + random.nextInt(600));
                crashAndRestart(data);
            }
            killsDone.set(true);
            List<Tally> tallies = new ArrayList<>();
            for (Future<Tally> f : running) {
                tallies.add(f.get(60, TimeUnit.SECONDS));
            }
            assertTrue(problems.isEmpty(), () -> "the server answered every append per the protocol: " + problems);
            return tallies;
        } finally {
            abandoned.set(true);
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    private void awaitProgress(long target) throws InterruptedException {
        long deadline = System.nanoTime() + PROGRESS_TIMEOUT.toNanos();
        while (acknowledged.get() < target) {
            if (!problems.isEmpty() || System.nanoTime() - deadline > 0) {
                fail("producers got " + acknowledged.get() + " of " + target
                        + " acknowledged appends from the restarted server; problems: " + problems);
            }
            Thread.sleep(10);
        }
    }

    private void startServer(Path data) throws IOException, InterruptedException {
        ServerProcess server = ServerProcess.start(data);
        servers.add(server);
        base.set(server.base());
    }

    private void crashAndRestart(Path data) throws IOException, InterruptedException {
        ServerProcess current = servers.getLast();
        current.kill();
        assertFalse(current.isAlive(), "SIGKILL ended server pid " + current.pid());
        startServer(data);
    }

    /**
     * One idempotent producer (epoch 0): sends seq 0, 1, 2, … one at a time and resends the same
     * seq and body after a connection error or 5xx until the server acknowledges it.
     */
    private final class Producer implements Callable<Tally> {
        private final String id;

        Producer(String id) {
            this.id = id;
        }

        @Override
        public Tally call() throws InterruptedException {
            Tally.Builder tally = new Tally.Builder(id);
            long seq = 0;
            int afterLastRestart = 0;
            boolean mayHaveArrived = false;
            while (afterLastRestart < APPENDS_AFTER_LAST_RESTART && !abandoned.get()) {
                boolean againstLastServer = killsDone.get();
                HttpResponse<Void> res;
                try {
                    res = client.send(append(base.get(), id, seq), HttpResponse.BodyHandlers.discarding());
                } catch (ConnectException e) {
                    tally.refused++; // never reached a server
                    Thread.sleep(20);
                    continue;
                } catch (IOException e) {
                    tally.interrupted++; // may or may not have been written before the kill
                    mayHaveArrived = true;
                    Thread.sleep(20);
                    continue;
                }
                int status = res.statusCode();
                if (status >= 500) {
                    tally.serverErrors++;
                    mayHaveArrived = true;
                    Thread.sleep(20);
                    continue;
                }
                if (!acknowledges(res, seq, mayHaveArrived, tally)) {
                    return tally.build(seq - 1);
                }
                acknowledged.incrementAndGet();
                mayHaveArrived = false;
                seq++;
                if (againstLastServer) {
                    afterLastRestart++;
                }
            }
            return tally.build(seq - 1);
        }

        /** 200 for a new append, 204 only for one an earlier attempt may have written. */
        private boolean acknowledges(HttpResponse<Void> res, long seq, boolean mayHaveArrived, Tally.Builder tally) {
            String producerSeq = res.headers().firstValue("Producer-Seq").orElse("(none)");
            String what = id + " seq " + seq + ": ";
            if (res.statusCode() == 204 && !mayHaveArrived) {
                problems.add(what + "204 duplicate for an append no earlier attempt could have delivered");
                return false;
            }
            if (res.statusCode() != 200 && res.statusCode() != 204) {
                problems.add(what + "status " + res.statusCode() + ", expected 200 or a 204 duplicate");
                return false;
            }
            if (!producerSeq.equals(Long.toString(seq))) {
                problems.add(what + res.statusCode() + " with Producer-Seq " + producerSeq + ", expected " + seq);
                return false;
            }
            if (res.statusCode() == 204) {
                tally.duplicates++;
            } else if (mayHaveArrived) {
                tally.resentAndWritten++;
            }
            return true;
        }
    }

    /** What one producer saw; {@code lastAcknowledged} is -1 if nothing was acknowledged. */
    private record Tally(
            String producer,
            long lastAcknowledged,
            int refused,
            int interrupted,
            int serverErrors,
            int duplicates,
            int resentAndWritten) {

        /** Confined to the producer's thread. */
        static final class Builder {
            final String producer;
            int refused;
            int interrupted;
            int serverErrors;
            int duplicates;
            int resentAndWritten;

            Builder(String producer) {
                this.producer = producer;
            }

            Tally build(long lastAcknowledged) {
                return new Tally(
                        producer, lastAcknowledged, refused, interrupted, serverErrors, duplicates, resentAndWritten);
            }
        }
    }

    private static String record(String producer, long seq) {
        return producer + ":" + seq + "\n";
    }

    private static HttpRequest append(URI server, String producer, long seq) {
        return HttpRequest.newBuilder(server.resolve(STREAM))
                .timeout(REQUEST_TIMEOUT)
                .header("Content-Type", TYPE)
                .header("Producer-Id", producer)
                .header("Producer-Epoch", "0")
                .header("Producer-Seq", Long.toString(seq))
                .POST(HttpRequest.BodyPublishers.ofString(record(producer, seq)))
                .build();
    }

    private HttpResponse<Void> send(HttpRequest request) throws IOException, InterruptedException {
        return client.send(request, HttpResponse.BodyHandlers.discarding());
    }

    private HttpResponse<Void> put() throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(base.get().resolve(STREAM))
                .timeout(REQUEST_TIMEOUT)
                .header("Content-Type", TYPE)
                .PUT(HttpRequest.BodyPublishers.noBody())
                .build());
    }

    /** The whole stream by catch-up reads from offset -1, split into each producer's seqs in stream order. */
    private Map<String, List<Long>> readProducerRecords() throws IOException, InterruptedException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        String offset = "-1";
        while (true) {
            URI uri = base.get().resolve(STREAM + "?offset=" + URLEncoder.encode(offset, StandardCharsets.UTF_8));
            HttpResponse<byte[]> res = client.send(
                    HttpRequest.newBuilder(uri).timeout(REQUEST_TIMEOUT).GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, res.statusCode(), "a catch-up read at offset " + offset + " succeeds");
            all.writeBytes(res.body());
            String next = res.headers().firstValue("Stream-Next-Offset").orElse(null);
            assertTrue(next != null, "every read carries Stream-Next-Offset");
            if (res.headers().firstValue("Stream-Up-To-Date").isPresent()) {
                break;
            }
            assertFalse(next.equals(offset), "a read that is not up to date moves the offset forward");
            offset = next;
        }
        return byProducer(all.toString(StandardCharsets.UTF_8));
    }

    private static Map<String, List<Long>> byProducer(String content) {
        assertTrue(content.isEmpty() || content.endsWith("\n"), "the stream holds whole records only");
        Map<String, List<Long>> seqs = new LinkedHashMap<>();
        for (String line : content.split("\n", -1)) {
            if (line.isEmpty()) {
                continue;
            }
            Matcher m = RECORD.matcher(line);
            assertTrue(m.matches(), () -> "every record is one a producer sent, but found '" + line + "'");
            seqs.computeIfAbsent(m.group(1), p -> new ArrayList<>()).add(Long.parseLong(m.group(2)));
        }
        return seqs;
    }

    private static void assertExactlyOnceInOrder(Map<String, List<Long>> stored, String producer, long last) {
        List<Long> seqs = stored.getOrDefault(producer, List.of());
        String deviation = deviation(seqs, last);
        assertTrue(
                deviation.isEmpty(),
                () -> producer + "'s acknowledged appends 0.." + last
                        + " are each in the stream exactly once, in seq order, and nothing else of it is: "
                        + deviation);
    }

    /** Empty if {@code seqs} is exactly 0..last; otherwise what is missing, repeated or out of place. */
    private static String deviation(List<Long> seqs, long last) {
        Set<Long> seen = new HashSet<>();
        List<Long> repeated = new ArrayList<>();
        for (long s : seqs) {
            if (!seen.add(s)) {
                repeated.add(s);
            }
        }
        List<Long> missing = new ArrayList<>();
        for (long s = 0; s <= last; s++) {
            if (!seen.contains(s)) {
                missing.add(s);
            }
        }
        List<Long> beyond = seqs.stream().filter(s -> s > last).toList();
        int firstOutOfPlace = -1;
        for (int i = 0; i < seqs.size() && firstOutOfPlace < 0; i++) {
            if (seqs.get(i) != i) {
                firstOutOfPlace = i;
            }
        }
        if (repeated.isEmpty() && missing.isEmpty() && beyond.isEmpty() && firstOutOfPlace < 0) {
            return seqs.size() == last + 1 ? "" : "expected " + (last + 1) + " records, found " + seqs.size();
        }
        return "missing " + missing + ", repeated " + repeated + ", never acknowledged " + beyond
                + ", first out of place at index " + firstOutOfPlace + " of " + seqs.size();
    }

    /**
     * After the crash the server still knows each producer's last seq: a resend is a 204
     * duplicate, a gap is a 409, and the next seq is appended with 200.
     */
    private void assertProducerStateSurvived(String producer, long last) throws IOException, InterruptedException {
        URI server = base.get();
        HttpResponse<Void> resend = send(append(server, producer, last));
        assertEquals(204, resend.statusCode(), producer + ": resending acknowledged seq " + last + " is a duplicate");
        assertEquals(
                Long.toString(last),
                resend.headers().firstValue("Producer-Seq").orElse(null),
                producer + ": the duplicate reports the highest accepted seq");

        HttpResponse<Void> gap = send(append(server, producer, last + 2));
        assertEquals(409, gap.statusCode(), producer + ": skipping seq " + (last + 1) + " is a gap");
        assertEquals(
                Long.toString(last + 1),
                gap.headers().firstValue("Producer-Expected-Seq").orElse(null),
                producer + ": the gap names the seq the server expects");

        HttpResponse<Void> next = send(append(server, producer, last + 1));
        assertEquals(200, next.statusCode(), producer + ": the next seq " + (last + 1) + " is appended");
        assertEquals(
                Long.toString(last + 1),
                next.headers().firstValue("Producer-Seq").orElse(null),
                producer + ": the append echoes its seq");
    }

    private void assertKillsHappened(List<Tally> tallies) {
        Set<Long> pids = new HashSet<>();
        servers.forEach(s -> pids.add(s.pid()));
        assertEquals(KILLS_WHILE_APPENDING + 2, pids.size(), "every restart is a new server process");
        int interrupted = tallies.stream().mapToInt(Tally::interrupted).sum();
        int duplicates = tallies.stream().mapToInt(Tally::duplicates).sum();
        System.out.printf(
                "CrashRecoveryTest: %d SIGKILLs, %d acknowledged appends; per producer %s%n",
                KILLS_WHILE_APPENDING + 1, acknowledged.get(), tallies);
        assertTrue(
                interrupted + duplicates > 0, "the kills cut off in-flight appends, so some were resent: " + tallies);
    }
}
