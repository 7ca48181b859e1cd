package dev.tether.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.TetherServer;
import dev.tether.config.ServerConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SDK against a real server with auth on: an admin, a user and an agent worker are three principals. */
class AgentSessionTest {
    static final String ADMIN = "admin-secret-0123456789";
    static final String USER = "user-secret-0123456789";
    static final String AGENT = "agent-secret-0123456789";

    @TempDir
    Path dir;

    TetherServer server;
    TetherClient admin;
    TetherClient user;
    TetherClient agent;

    @BeforeEach
    void start() throws Exception {
        Path auth = dir.resolve("auth.json");
        Files.writeString(
                auth,
                """
                {"keys": [
                  {"name": "admin", "secret": "%s", "capabilities": {"*": ["*"]}},
                  {"name": "user", "secret": "%s", "capabilities": {"sessions/*": ["read", "join", "publish", "cancel", "steer"]}},
                  {"name": "agent", "secret": "%s", "capabilities": {"sessions/*": ["read", "join", "publish"]}}]}
                """
                        .formatted(ADMIN, USER, AGENT));
        server = TetherServer.start(ServerConfig.builder()
                .port(0)
                .dataDir(dir.resolve("data"))
                .longPollTimeout(Duration.ofMillis(500))
                .eventLoops(2)
                .authConfig(auth)
                .build());
        URI base = URI.create("http://127.0.0.1:" + server.port());
        admin = TetherClient.of(base, () -> ADMIN);
        user = TetherClient.of(base, () -> USER);
        agent = TetherClient.of(base, () -> AGENT);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** Polls the session view until {@code test} holds on its run (10 s at most). */
    static JsonNode awaitRun(TetherClient c, String session, String runId, Predicate<JsonNode> test) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            JsonNode r = run(c, session, runId);
            if (r != null && test.test(r)) {
                return r;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("run " + runId + " never reached the expected state: " + run(c, session, runId));
    }

    /** The run's latest record, from the log (a catch-up read of the events route). */
    static JsonNode run(TetherClient c, String session, String runId) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(c.base().resolve("/v1/sessions/" + session + "/events?offset=-1"))
                                .header("Authorization", "Bearer " + c.token())
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        JsonNode latest = null;
        for (JsonNode e : TetherClient.JSON.readTree(r.body())) {
            if (e.path("type").asText().equals("run") && e.path("key").asText().equals(runId)) {
                latest = e.path("value");
            }
        }
        return latest;
    }

    @Test
    void anAgentAnswersAUserMessageWithAStreamedRun() throws Exception {
        String session = admin.createSession(null);
        String[] runId = new String[1];
        try (AgentSession _ = agent.joinAsAgent(session, "Echo bot", (s, m) -> {
            try (Run run = s.startRun(m.id())) {
                runId[0] = run.id();
                for (String word : ("You said: " + m.content()).split("(?<= )")) {
                    run.write(word);
                    Thread.sleep(5);
                }
            }
        })) {
            user.sendMessage(session, "hello there");
            while (runId[0] == null) {
                Thread.sleep(10);
            }
            JsonNode done = awaitRun(
                    user, session, runId[0], r -> r.path("status").asText().equals("completed"));
            assertEquals("You said: hello there", done.path("text").asText(), "every batched delta arrived, in order");
            assertEquals("key:agent", done.path("agent").asText());
        }
    }

    @Test
    void aCancelStopsTheRunAndTheAgentHearsIt() throws Exception {
        String session = admin.createSession(null);
        CountDownLatch cancelled = new CountDownLatch(1);
        String[] runId = new String[1];
        try (AgentSession _ = agent.joinAsAgent(session, null, (s, m) -> {
            Run run = s.startRun(m.id());
            run.onCancel(cancelled::countDown);
            runId[0] = run.id();
            while (run.active()) {
                run.write("more ");
                Thread.sleep(20);
            }
            run.close(); // a no-op: it already ended
        })) {
            user.sendMessage(session, "talk forever");
            while (runId[0] == null) {
                Thread.sleep(10);
            }
            Thread.sleep(200); // some text streamed
            user.call("POST", "/v1/sessions/" + session + "/runs/" + runId[0] + "/cancel", null);
            assertTrue(cancelled.await(5, TimeUnit.SECONDS), "the agent's cancel listener ran");
            assertEquals(
                    "cancelled",
                    awaitRun(user, session, runId[0], r -> !r.path("status")
                                    .asText()
                                    .equals("running"))
                            .path("status")
                            .asText());
        }
    }

    @Test
    void anApprovalIsAwaitedAndTheOutputPosted() throws Exception {
        String session = admin.createSession(null);
        String[] callId = new String[1];
        String[] runId = new String[1];
        try (AgentSession _ = agent.joinAsAgent(session, null, (s, m) -> {
            try (Run run = s.startRun(m.id())) {
                runId[0] = run.id();
                Run.ToolCall call = run.requestApproval("refund", "{\"amount\":5}");
                callId[0] = call.id();
                if (call.decision().get(10, TimeUnit.SECONDS)) {
                    run.toolOutput(call.id(), "refunded");
                    run.write("Done: refunded.");
                } else {
                    run.write("Not allowed.");
                }
            }
        })) {
            user.sendMessage(session, "refund me");
            while (callId[0] == null) {
                Thread.sleep(10);
            }
            admin.call("POST", "/v1/sessions/" + session + "/tool_calls/" + callId[0] + "/approve", null);
            JsonNode done = awaitRun(
                    user, session, runId[0], r -> r.path("status").asText().equals("completed"));
            assertEquals("Done: refunded.", done.path("text").asText(), "the agent waited for the approval");
        }
    }

    @Test
    void aKilledWorkersRunFailsAndARestartedWorkerPicksTheSessionUp() throws Exception {
        String session = admin.createSession(TetherClient.JSON.readTree("{\"policy\":{\"presence_timeout_ms\":500}}"));
        String[] stuck = new String[1];
        CountDownLatch hang = new CountDownLatch(1);
        AgentSession first = agent.joinAsAgent(session, null, (s, m) -> {
            Run run = s.startRun(m.id());
            run.write("partial");
            run.flush();
            stuck[0] = run.id();
            hang.await(); // the worker dies here
        });
        user.sendMessage(session, "first");
        while (stuck[0] == null) {
            Thread.sleep(10);
        }
        Thread.sleep(100);
        first.close(); // killed: no leave, no end, no more heartbeats
        JsonNode lost =
                awaitRun(user, session, stuck[0], r -> r.path("status").asText().equals("failed"));
        assertEquals("agent_lost", lost.path("error").path("code").asText());
        assertEquals("partial", lost.path("text").asText());

        String missed = user.sendMessage(session, "while you were away")
                .path("message")
                .path("id")
                .asText();
        String[] answered = new String[2];
        try (AgentSession _ = agent.joinAsAgent(session, null, (s, m) -> {
            try (Run run = s.startRun(m.id())) {
                answered[0] = m.id();
                answered[1] = run.id();
                run.write("back: " + m.content());
            }
        })) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (answered[1] == null && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(
                    missed,
                    answered[0],
                    "the restarted worker answered the message no run had answered; the session then: "
                            + admin.session(session));
            assertEquals(
                    "back: while you were away",
                    awaitRun(user, session, answered[1], r -> r.path("status")
                                    .asText()
                                    .equals("completed"))
                            .path("text")
                            .asText());
        }
        hang.countDown();
    }

    @Test
    void theProducerWritesEachAppendOnceAcrossRetries() throws Exception {
        HttpResponse<String> created = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(admin.base().resolve("/v1/stream/jobs/log"))
                                .header("Authorization", "Bearer " + ADMIN)
                                .header("Content-Type", "application/json")
                                .PUT(HttpRequest.BodyPublishers.noBody())
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertEquals(201, created.statusCode(), created.body());
        StreamProducer p = admin.producer("jobs/log", "worker-1", 0);
        assertTrue(p.append("{\"n\":1}"));
        assertTrue(p.append("{\"n\":2}"));
        StreamProducer replay = admin.producer("jobs/log", "worker-1", 0); // a retry of seq 0 after a crash
        assertFalse(replay.append("{\"n\":1}"), "the server already had seq 0: nothing written");
        HttpResponse<String> read = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(admin.base().resolve("/v1/stream/jobs/log?offset=-1"))
                                .header("Authorization", "Bearer " + ADMIN)
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertEquals("[{\"n\":1},{\"n\":2}]", read.body(), "each append exactly once, in order");
        TetherException gap = org.junit.jupiter.api.Assertions.assertThrows(
                TetherException.class,
                () -> admin.producer("jobs/log", "worker-1", 0).resumeAt(5).append("{}"));
        assertEquals(409, gap.status());
    }
}
