package dev.tether.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.testing.TestModels;
import dev.tether.testing.TestServer;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fixed-seed fuzz run over both HTTP APIs, raw HTTP/1.1 bytes and the Responses WebSocket,
 * against an in-process server with the tiny random-weight model (so Responses requests really
 * generate, cheaply: context 256). The oracle is {@link Oracle} and {@link WsSession}: no 5xx, no
 * hang, no stack trace or exception name in a body or frame, JSON error bodies, the right
 * WebSocket close codes, and {@code /health} answering after every batch. Counts are fixed (not
 * time-bounded) so every run sends the same cases. Larger campaigns: {@code bench/fuzz/run.sh}.
 */
class ApiFuzzTest {
    private static final long SEED = 20_251;

    @TempDir
    static Path dir;

    private static TestServer server;
    private static Target target;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(
                dir, b -> b.model(TestModels.tiny()).sessionContext(256).maxBodyBytes(1 << 20));
        target = new Target("127.0.0.1", server.port(), null, 500, false, false);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /**
     * 600 cases over every area, interleaved by weight (streams 45 %, responses 22 %,
     * conversations 10 %, raw 11 %, WebSocket 12 %). Deadlines are short (loopback, tiny model):
     * 5 s for a request, 20 s for one that generates (up to the 256-token context: well under a
     * second on an idle machine, several on a loaded one), 2 s for a WebSocket close or pong. The
     * 60 s budget only bounds a run against a server that hangs a lot (each hang costs its
     * deadline); a healthy server finishes every case well within it, and the summary says when
     * it did not.
     */
    @Test
    void fuzzedRequestsOverBothApisAndTheWebSocketGetNo5xxNoHangNoTrace() {
        Campaign.Settings settings = Campaign.Settings.of(SEED, 600)
                .withDeadlines(5_000, 20_000, 2_000)
                .withBudget(60_000);
        Tally tally = new Campaign(target, settings, System.out).run();
        String summary = tally.summary(target + " (in-process, tiny model)");
        System.out.println(summary);
        assertEquals(
                0,
                tally.failingCaseCount(),
                () -> summary + "\nfailing cases (replay one with bench/fuzz/run.sh --seed " + SEED
                        + " --only AREA:INDEX):\n" + tally.failingCaseLines(200));
    }
}
