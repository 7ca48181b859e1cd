package dev.tether.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ServerProcess;
import dev.tether.testing.SessionClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A session survives a SIGKILL of the server: every acknowledged entry is there after the
 * restart, and no run is left running (the interrupted ones end failed, server_restart).
 */
class SessionCrashTest {
    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedEntrySurvivesAKillAndNoRunStaysRunning() throws Exception {
        Path data = dir.resolve("data");
        ServerProcess first = ServerProcess.start(data, "--upstream", "http://127.0.0.1:9/v1");
        String id;
        String run;
        ConcurrentLinkedQueue<String> acknowledged = new ConcurrentLinkedQueue<>();
        try {
            SessionClient c = new SessionClient(first.port(), null);
            id = c.create("{}");
            assertEquals(
                    201,
                    c.post("/v1/sessions/" + id + "/participants", "{\"role\":\"agent\"}")
                            .status());
            run = c.post("/v1/sessions/" + id + "/runs", "{}").text("id");
            assertEquals(
                    200,
                    c.post("/v1/sessions/" + id + "/runs/" + run + "/chunks", "{\"delta\":\"before\"}")
                            .status());
            String session = id;
            ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<?>> jobs = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                int writer = w;
                jobs.add(writers.submit(() -> {
                    for (int i = 0; ; i++) {
                        String key = "m-" + writer + "-" + i;
                        try {
                            var r = c.post(
                                    "/v1/sessions/" + session + "/messages",
                                    "{\"content\":\"x\",\"id\":\"" + key + "\"}");
                            if (r.status() == 201) {
                                acknowledged.add(key);
                            }
                        } catch (Exception e) {
                            return null; // the server is gone
                        }
                    }
                }));
            }
            while (acknowledged.size() < 100) {
                Thread.sleep(5);
            }
            first.kill(); // SIGKILL during the writes
            for (Future<?> f : jobs) {
                f.get();
            }
            writers.close();
        } finally {
            first.close();
        }
        try (ServerProcess second = ServerProcess.start(data, "--upstream", "http://127.0.0.1:9/v1")) {
            SessionClient c = new SessionClient(second.port(), null);
            List<JsonNode> log = c.log(id);
            Map<String, JsonNode> state = SessionClient.fold(log);
            for (String key : acknowledged) {
                assertTrue(state.containsKey("message/" + key), "acknowledged message " + key + " survived");
            }
            JsonNode r = state.get("run/" + run);
            assertEquals("failed", r.path("status").asText(), "the interrupted run ended: " + r);
            assertEquals("server_restart", r.path("error").path("code").asText());
            assertEquals("before", r.path("text").asText(), "with the text it had");
            for (var e : state.entrySet()) {
                if (e.getKey().startsWith("run/")) {
                    assertTrue(!e.getValue().path("status").asText().equals("running"), "no run left running");
                }
                if (e.getKey().startsWith("presence/")) {
                    assertEquals(
                            "offline", e.getValue().path("status").asText(), "nobody is connected after a restart");
                }
            }
            assertEquals(0, c.get("/v1/sessions/" + id).body().path("runs").size(), "no active run in the view");
        }
    }

    @Test
    void aGracefulStopEndsRunsInProgressAsFailedServerShutdown() throws Exception {
        Path data = dir.resolve("data-stop");
        String id;
        String run;
        try (ServerProcess first = ServerProcess.start(data, "--upstream", "http://127.0.0.1:9/v1")) {
            SessionClient c = new SessionClient(first.port(), null);
            id = c.create("{}");
            assertEquals(
                    201,
                    c.post("/v1/sessions/" + id + "/participants", "{\"role\":\"agent\"}")
                            .status());
            run = c.post("/v1/sessions/" + id + "/runs", "{}").text("id");
            assertEquals(
                    200,
                    c.post("/v1/sessions/" + id + "/runs/" + run + "/chunks", "{\"delta\":\"so far\"}")
                            .status());
            assertEquals(143, first.stop(), "a SIGTERM'd JVM that ran its shutdown hook exits with 128+15");
        }
        try (ServerProcess second = ServerProcess.start(data, "--upstream", "http://127.0.0.1:9/v1")) {
            JsonNode r = new SessionClient(second.port(), null).latest(id, "run", run);
            assertEquals("failed", r.path("status").asText(), r.toString());
            assertEquals(
                    "server_shutdown", r.path("error").path("code").asText(), "ended at the stop, not at the restart");
            assertEquals("so far", r.path("text").asText());
        }
    }

    @Test
    void retentionNeverTrimsASessionLog() throws Exception {
        try (var server = dev.tether.testing.TestServer.start(dir.resolve("data-retain"), b -> b.retainBytes(512))) {
            SessionClient c = new SessionClient(server, null);
            String id = c.create("{}");
            for (int i = 0; i < 40; i++) {
                assertEquals(
                        201,
                        c.post("/v1/sessions/" + id + "/messages", "{\"content\":\"message " + i + "\"}")
                                .status());
            }
            Thread.sleep(2_500); // retention runs in the writer's once-a-second sweep
            List<JsonNode> log = c.log(id);
            assertEquals("session", log.get(0).path("type").asText(), "the log still starts with its session entry");
            assertEquals(
                    40,
                    log.stream()
                            .filter(e -> e.path("type").asText().equals("message"))
                            .count());
        }
    }
}
