package dev.tether.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.AuthFixture;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.SessionClient;
import dev.tether.testing.SessionClient.Live;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built-in agent against a scripted upstream: each run a response chained to the last (the
 * upstream sees a pure append), multitask policies, cancel versus disconnect, steer, the
 * unwatched policy, human handover with whispers, and tool approval.
 */
class BuiltInAgentTest {
    @TempDir
    Path dir;

    ScriptedUpstream upstream;
    TestServer server;
    SessionClient user;
    SessionClient operator;

    @BeforeEach
    void start() throws Exception {
        upstream = ScriptedUpstream.start();
        AuthFixture auth = AuthFixture.create(dir.resolve("auth"));
        server = TestServer.start(
                dir.resolve("data"), b -> b.upstream(URI.create(upstream.url())).authConfig(auth.config()));
        user = new SessionClient(
                server,
                auth.token(
                        "HS256",
                        "alice",
                        "{\"sessions/*\": [\"create\", \"read\", \"join\", \"publish\", \"cancel\", \"steer\"]}"));
        operator = new SessionClient(server, auth.token("HS256", "olga", "{\"sessions/*\": [\"*\"]}"));
    }

    @AfterEach
    void stop() {
        server.close();
        upstream.close();
    }

    String session(String policy) throws Exception {
        return user.create("{\"agent\":{\"model\":\"m\",\"instructions\":\"Be brief.\"},\"policy\":" + policy + "}");
    }

    JsonNode send(String id, String content) throws Exception {
        var r = user.post(
                "/v1/sessions/" + id + "/messages",
                SessionClient.JSON.createObjectNode().put("content", content).toString());
        assertEquals(201, r.status(), r.raw());
        return r.body();
    }

    JsonNode awaitRun(String id, String run, String status) throws Exception {
        List<JsonNode> log = user.awaitLog(
                id,
                e -> e.path("key").asText().equals(run)
                        && e.path("value").path("status").asText().equals(status));
        return SessionClient.fold(log).get("run/" + run);
    }

    static ScriptedUpstream.Text slow(int n) {
        List<String> chunks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            chunks.add("w" + i + " ");
        }
        return new ScriptedUpstream.Text(100, chunks, -1, 0);
    }

    @Test
    void eachRunIsAResponseChainedToTheLastSoTheUpstreamSeesAPureAppend() throws Exception {
        upstream.then(ScriptedUpstream.text("Hello", " there")).then(ScriptedUpstream.text("Fine."));
        String id = session("{}");
        String first = send(id, "hi").path("run").path("id").asText();
        JsonNode run1 = awaitRun(id, first, "completed");
        assertEquals("Hello there", run1.path("text").asText());
        assertTrue(run1.path("response_id").asText().startsWith("resp_"), "backed by a response: " + run1);
        String second = send(id, "how are you?").path("run").path("id").asText();
        awaitRun(id, second, "completed");
        List<JsonNode> sent = upstream.requests();
        JsonNode a = sent.get(0).path("messages");
        JsonNode b = sent.get(1).path("messages");
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i), b.get(i), "turn 2 starts with turn 1's messages unchanged (pure append)");
        }
        assertEquals("Hello there", b.get(a.size()).path("content").asText(), "then the answer");
        assertEquals("how are you?", b.get(b.size() - 1).path("content").asText(), "then only the new message");
        assertEquals("Hello there", SessionClient.runText(user.log(id), first), "chunks concatenate to the text");
    }

    @Test
    void aFailingUpstreamEndsTheRunFailedAndTheSessionGoesOn() throws Exception {
        upstream.then(new ScriptedUpstream.Status(500, "boom")) // the backend retries a 500 once
                .then(new ScriptedUpstream.Status(500, "boom"))
                .then(ScriptedUpstream.text("recovered"));
        String id = session("{}");
        String first = send(id, "one").path("run").path("id").asText();
        JsonNode failed = awaitRun(id, first, "failed");
        assertFalse(failed.path("error").path("code").asText().isEmpty(), "the failure says why: " + failed);
        assertEquals(
                "idle",
                user.latest(id, "presence", "tether-agent").path("agent_status").asText());
        String second = send(id, "two").path("run").path("id").asText();
        assertEquals(
                "recovered",
                awaitRun(id, second, "completed").path("text").asText(),
                "the next run continues from the last good response");
    }

    @Test
    void enqueueRunsTheNextMessageAfterTheActiveRun() throws Exception {
        upstream.then(slow(5)).then(ScriptedUpstream.text("second"));
        String id = session("{\"multitask\":\"enqueue\"}");
        String first = send(id, "one").path("run").path("id").asText();
        JsonNode queued = send(id, "two").path("run");
        assertEquals("queued", queued.path("status").asText());
        awaitRun(id, first, "completed");
        JsonNode second = awaitRun(id, queued.path("id").asText(), "completed");
        assertEquals("second", second.path("text").asText());
        assertEquals(2, upstream.requests().size(), "one turn each, one after the other");
    }

    @Test
    void aFloodOfMessagesIsRefusedOnceTheRunQueueIsFull() throws Exception {
        upstream.then(new ScriptedUpstream.Hang());
        String id = session("{}");
        for (int i = 0; i < RunBook.MAX_ACTIVE; i++) {
            send(id, "m" + i);
        }
        var refused = user.post("/v1/sessions/" + id + "/messages", "{\"content\":\"one too many\"}");
        assertEquals(429, refused.status(), refused.raw());
        assertTrue(refused.response().headers().firstValue("Retry-After").isPresent(), "a 429 says when to retry");
    }

    @Test
    void rejectRefusesWithConflictAndRecordsTheRejection() throws Exception {
        upstream.then(slow(5));
        String id = session("{\"multitask\":\"reject\"}");
        String first = send(id, "one").path("run").path("id").asText();
        var refused = user.post("/v1/sessions/" + id + "/messages", "{\"content\":\"two\"}");
        assertEquals(409, refused.status(), refused.raw());
        List<JsonNode> log = user.log(id);
        assertTrue(
                log.stream()
                        .anyMatch(e -> e.path("type").asText().equals("signal")
                                && e.path("value").path("outcome").asText().equals("rejected")),
                "the rejection is an entry in the log");
        assertFalse(
                log.stream()
                        .anyMatch(e -> e.path("value").path("content").asText().equals("two")),
                "the rejected message is not in the log");
        awaitRun(id, first, "completed");
    }

    @Test
    void interruptCancelsTheActiveRunThenStartsTheNewOne() throws Exception {
        upstream.then(slow(50)).then(ScriptedUpstream.text("new answer"));
        String id = session("{\"multitask\":\"interrupt\"}");
        String first = send(id, "one").path("run").path("id").asText();
        user.awaitLog(id, e -> e.path("type").asText().equals("chunk"));
        String second = send(id, "two").path("run").path("id").asText();
        awaitRun(id, first, "cancelled");
        assertEquals(
                "new answer", awaitRun(id, second, "completed").path("text").asText());
    }

    @Test
    void concurrentRunsInParallel() throws Exception {
        upstream.then(slow(10)).then(slow(10));
        String id = session("{\"multitask\":\"concurrent\"}");
        String first = send(id, "one").path("run").path("id").asText();
        String second = send(id, "two").path("run").path("id").asText();
        user.awaitView(
                id,
                v -> v.path("runs").size() == 2
                        && v.path("runs").get(0).path("status").asText().equals("running")
                        && v.path("runs").get(1).path("status").asText().equals("running"));
        awaitRun(id, first, "completed");
        awaitRun(id, second, "completed");
    }

    @Test
    void disconnectingEveryDeviceNeverCancelsOnlyACancelDoes() throws Exception {
        upstream.then(slow(8)).then(slow(50));
        String id = session("{}");
        Live a = user.sse(id, "-1");
        Live b = user.ws(id, "-1", new CopyOnWriteArrayList<>());
        String first = send(id, "one").path("run").path("id").asText();
        a.await(e -> e.type().equals("chunk"));
        a.kill();
        b.kill();
        assertEquals(
                "completed",
                awaitRun(id, first, "completed").path("status").asText(),
                "closing every connection did not cancel the run");
        String second = send(id, "two").path("run").path("id").asText();
        user.awaitLog(id, e -> e.path("key").asText().startsWith(second + ":"));
        var cancel = user.post("/v1/sessions/" + id + "/runs/" + second + "/cancel", "{}");
        assertEquals(200, cancel.status(), cancel.raw());
        awaitRun(id, second, "cancelled");
        var again = user.post("/v1/sessions/" + id + "/runs/" + second + "/cancel", "{}");
        assertEquals(409, again.status(), "a cancel of an ended run is rejected: " + again.raw());
    }

    @Test
    void steerEndsTheRunIncompleteAndASuccessorContinuesWithTheInput() throws Exception {
        upstream.then(slow(50)).then(ScriptedUpstream.text("steered answer"));
        String id = session("{}");
        String first = send(id, "write a long story").path("run").path("id").asText();
        user.awaitLog(id, e -> e.path("type").asText().equals("chunk"));
        var steer = user.post("/v1/sessions/" + id + "/runs/" + first + "/steer", "{\"input\":\"make it short\"}");
        assertEquals(200, steer.status(), steer.raw());
        JsonNode steered = awaitRun(id, first, "incomplete");
        assertEquals("steered", steered.path("error").path("code").asText(), "reason steered: " + steered);
        List<JsonNode> log = user.awaitLog(
                id,
                e -> e.path("type").asText().equals("run")
                        && e.path("value").path("steered_from").asText().equals(first)
                        && e.path("value").path("status").asText().equals("completed"));
        JsonNode successor = log.stream()
                .filter(e -> e.path("value").path("steered_from").asText().equals(first))
                .reduce((x, y) -> y)
                .orElseThrow();
        assertEquals("steered answer", successor.path("value").path("text").asText());
        JsonNode messages = upstream.requests().get(1).path("messages");
        assertEquals(
                "make it short",
                messages.get(messages.size() - 1).path("content").asText(),
                "the successor's context ends with the steer input");
    }

    @Test
    void anUnwatchedRunIsCancelledWhenThePolicySaysSo() throws Exception {
        upstream.then(slow(100));
        String id = session("{\"on_unwatched\":{\"cancel_after_ms\":300}}");
        Live device = user.sse(id, "-1");
        String run = send(id, "one").path("run").path("id").asText();
        device.await(e -> e.type().equals("chunk"));
        device.kill();
        JsonNode cancelled = awaitRun(id, run, "cancelled");
        List<JsonNode> log = user.log(id);
        assertTrue(
                log.stream()
                        .anyMatch(e -> e.path("type").asText().equals("signal")
                                && e.path("value").path("reason").asText().equals("unwatched")
                                && e.path("value")
                                        .path("actor")
                                        .path("id")
                                        .asText()
                                        .equals("tether")),
                "the server's cancel is recorded with its reason");
        assertEquals("cancelled", cancelled.path("status").asText());
    }

    @Test
    void handoverColdWarmAndBackWithWhispersTheUserNeverReceives() throws Exception {
        upstream.then(ScriptedUpstream.text("agent one")).then(ScriptedUpstream.text("agent two"));
        String id = session("{}");
        List<String> userFrames = new CopyOnWriteArrayList<>();
        Live userWs = user.ws(id, "-1", userFrames);
        Live userSse = user.sse(id, "-1");
        awaitRun(id, send(id, "hello").path("run").path("id").asText(), "completed");

        assertEquals(
                200,
                operator.post("/v1/sessions/" + id + "/floor", "{\"action\":\"supervise\"}")
                        .status());
        var whisper = operator.post(
                "/v1/sessions/" + id + "/messages", "{\"content\":\"secret note\",\"visibility\":\"operators\"}");
        assertEquals(201, whisper.status(), whisper.raw());
        assertEquals(
                200,
                operator.post("/v1/sessions/" + id + "/floor", "{\"action\":\"take\"}")
                        .status());
        JsonNode duringHuman = send(id, "are you human?");
        assertTrue(duringHuman.path("run").isNull(), "while a human holds the floor the agent starts no run");
        assertEquals(
                201,
                operator.post("/v1/sessions/" + id + "/messages", "{\"content\":\"Yes, I am Olga.\"}")
                        .status());
        assertEquals(
                200,
                operator.post("/v1/sessions/" + id + "/floor", "{\"action\":\"return\"}")
                        .status());
        String back = send(id, "thanks").path("run").path("id").asText();
        awaitRun(id, back, "completed");

        JsonNode context = upstream.requests().get(1).path("messages");
        String all = context.toString();
        assertTrue(
                all.contains("are you human?") && all.contains("Yes, I am Olga."),
                "on return the agent's context includes what was said meanwhile: " + all);
        assertEquals(2, upstream.requests().size(), "no turn ran while the human held the floor");

        userWs.await(
                e -> e.key().equals(back) && e.value().path("status").asText().equals("completed"));
        userSse.await(
                e -> e.key().equals(back) && e.value().path("status").asText().equals("completed"));
        String whisperKey = whisper.body().path("message").path("id").asText();
        assertFalse(userFrames.stream().anyMatch(f -> f.contains("secret note")), "no whisper on the user's WebSocket");
        assertFalse(userSse.entries().stream().anyMatch(e -> e.key().equals(whisperKey)), "no whisper over SSE");
        assertFalse(user.log(id).stream().anyMatch(e -> e.toString().contains("secret note")), "no whisper over GET");
        var raw = user.get("/v1/stream/sessions/" + id + "?offset=-1");
        assertEquals(200, raw.status());
        assertFalse(raw.raw().contains("secret note"), "no whisper on the raw stream");
        var poll = user.get("/v1/sessions/" + id + "/events?live=long-poll&offset=-1");
        assertFalse(poll.raw().contains("secret note"), "no whisper over long-poll");
        assertTrue(
                operator.log(id).stream().anyMatch(e -> e.toString().contains("secret note")),
                "operators see the whisper");
        assertFalse(
                user.get("/v1/sessions/" + id + "/snapshot").raw().contains("secret note"), "no whisper in a snapshot");
        assertTrue(operator.get("/v1/sessions/" + id + "/snapshot").raw().contains("secret note"));
        var retry = user.post("/v1/sessions/" + id + "/messages", "{\"content\":\"\",\"id\":\"" + whisperKey + "\"}");
        assertEquals(409, retry.status(), "someone else's message id is taken, not replayed");
        assertFalse(retry.raw().contains("secret note"), "a retry by id never reveals another's message");
        var audit = operator.get("/v1/sessions/" + id + "/audit?format=jsonl");
        assertTrue(audit.raw().contains("secret note"), "the audit export has every entry");
        JsonNode floor = SessionClient.fold(operator.log(id)).get("floor/floor");
        assertEquals("agent", floor.path("mode").asText());
        assertEquals("tether-agent", floor.path("holder").asText());
        userWs.kill();
        userSse.kill();
    }

    @Test
    void aToolCallWaitsForApprovalAndTheAgentContinuesWithItsOutput() throws Exception {
        upstream.then(new ScriptedUpstream.ToolCall("call_1", "refund", List.of("{\"amount\":", "10}")))
                .then(ScriptedUpstream.text("Refunded."));
        String id = user.create("{\"agent\":{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"name\":\"refund\","
                + "\"parameters\":{\"type\":\"object\"}}],\"require_approval\":[\"refund\"]}}");
        String run = send(id, "refund me").path("run").path("id").asText();
        awaitRun(id, run, "waiting_approval");
        JsonNode call = user.latest(id, "tool_call", "call_1");
        assertEquals("approval_required", call.path("status").asText());
        var denied = user.post("/v1/sessions/" + id + "/tool_calls/call_1/approve", "{}");
        assertEquals(403, denied.status(), "approving needs the approve capability: " + denied.raw());
        assertEquals(
                200,
                operator.post("/v1/sessions/" + id + "/tool_calls/call_1/approve", "{}")
                        .status());
        var late = operator.post("/v1/sessions/" + id + "/tool_calls/call_1/deny", "{}");
        assertEquals(409, late.status(), "the first decision wins: " + late.raw());
        assertEquals(
                200,
                operator.post("/v1/sessions/" + id + "/tool_calls/call_1/output", "{\"output\":\"ok\"}")
                        .status());
        JsonNode done = awaitRun(id, run, "completed");
        assertEquals("Refunded.", done.path("text").asText());
        JsonNode messages = upstream.requests().get(1).path("messages");
        assertEquals("ok", messages.get(messages.size() - 1).path("content").asText(), "the output went to the model");
        long rejected = user.log(id).stream()
                .filter(e -> e.path("type").asText().equals("signal")
                        && e.path("value").path("outcome").asText().equals("rejected"))
                .count();
        assertEquals(1, rejected, "the late deny is recorded as rejected");
    }

    @Test
    void aRunCancelledWithAnOpenToolCallLeavesTheSessionWorking() throws Exception {
        upstream.then(new ScriptedUpstream.ToolCall("call_9", "refund", List.of("{}")))
                .then(ScriptedUpstream.text("Next answer."));
        String id = user.create("{\"agent\":{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"name\":\"refund\","
                + "\"parameters\":{\"type\":\"object\"}}],\"require_approval\":[\"refund\"]}}");
        String run = send(id, "refund me").path("run").path("id").asText();
        awaitRun(id, run, "waiting_approval");
        assertEquals(
                200,
                user.post("/v1/sessions/" + id + "/runs/" + run + "/cancel", "{}")
                        .status());
        awaitRun(id, run, "cancelled");
        JsonNode call = user.latest(id, "tool_call", "call_9");
        assertEquals("denied", call.path("status").asText(), "an open call of an ended run is denied: " + call);
        String next = send(id, "something else").path("run").path("id").asText();
        assertEquals(
                "Next answer.",
                awaitRun(id, next, "completed").path("text").asText(),
                "the next turn answers the dangling call instead of failing");
        JsonNode messages = upstream.requests().get(1).path("messages");
        assertTrue(messages.toString().contains("not run: the run ended"), "the model heard why: " + messages);
    }

    @Test
    void aToolCallNobodyDecidesIsDeniedAtTheTimeout() throws Exception {
        upstream.then(new ScriptedUpstream.ToolCall("call_2", "refund", List.of("{}")))
                .then(ScriptedUpstream.text("Not refunded."));
        String id = user.create("{\"agent\":{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"name\":\"refund\","
                + "\"parameters\":{\"type\":\"object\"}}],\"require_approval\":[\"refund\"]},"
                + "\"policy\":{\"approval_timeout_ms\":300}}");
        String run = send(id, "refund me").path("run").path("id").asText();
        JsonNode done = awaitRun(id, run, "completed");
        assertEquals("Not refunded.", done.path("text").asText());
        JsonNode call = user.latest(id, "tool_call", "call_2");
        assertEquals("denied", call.path("status").asText());
        assertTrue(call.path("output").asText().contains("approval timeout"), call.toString());
        assertEquals("tether", call.path("actor").path("id").asText(), "the server denied it");
        Collections.emptyList();
    }
}
