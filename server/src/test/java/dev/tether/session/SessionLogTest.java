package dev.tether.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.AuthFixture;
import dev.tether.testing.SessionClient;
import dev.tether.testing.SessionClient.Entry;
import dev.tether.testing.SessionClient.Live;
import dev.tether.testing.TestServer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The session log over every transport, with an external agent writing runs: State Protocol
 * shape, attribution, idempotent messages, runs as one growing record, rollup (replay == live),
 * late joiners, exact resume after a killed device, snapshot + tail, audit export.
 */
class SessionLogTest {
    @TempDir
    static Path dir;

    static TestServer server;
    /** The user (JWT subject alice). */
    static SessionClient client;
    /** The external agent (JWT subject bot). */
    static SessionClient agent;

    @BeforeAll
    static void start() throws Exception {
        AuthFixture auth = AuthFixture.create(dir.resolve("auth"));
        server = TestServer.start(dir.resolve("data"), b -> b.authConfig(auth.config()));
        client = new SessionClient(
                server,
                auth.token(
                        "HS256",
                        "alice",
                        "{\"sessions/*\": [\"create\", \"read\", \"join\", \"publish\", \"cancel\", \"steer\", \"audit\"]}"));
        agent = new SessionClient(
                server, auth.token("HS256", "bot", "{\"sessions/*\": [\"read\", \"join\", \"publish\"]}"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** A session with an external agent that has joined, and a user message: returns {session, message}. */
    static String[] sessionWithAgent(String policy) throws Exception {
        String id = client.create("{\"policy\":" + policy + "}");
        assertEquals(
                201,
                agent.post("/v1/sessions/" + id + "/participants", "{\"role\":\"agent\",\"name\":\"Bot\"}")
                        .status());
        var m = client.post("/v1/sessions/" + id + "/messages", "{\"content\":\"hello\"}");
        assertEquals(201, m.status(), m.raw());
        assertTrue(m.body().path("run").isNull(), "an external agent's session starts no run by itself");
        return new String[] {id, m.body().path("message").path("id").asText()};
    }

    static String startRun(String id, String trigger) throws Exception {
        var r = agent.post("/v1/sessions/" + id + "/runs", "{\"trigger\":\"" + trigger + "\"}");
        assertEquals(201, r.status(), r.raw());
        return r.body().path("id").asText();
    }

    static void chunk(String id, String run, String delta) throws Exception {
        var r = agent.post(
                "/v1/sessions/" + id + "/runs/" + run + "/chunks",
                SessionClient.JSON.createObjectNode().put("delta", delta).toString());
        assertEquals(200, r.status(), r.raw());
    }

    static void end(String id, String run) throws Exception {
        var r = agent.post("/v1/sessions/" + id + "/runs/" + run + "/end", "{\"status\":\"completed\"}");
        assertEquals(200, r.status(), r.raw());
    }

    @Test
    void everyEntryIsAStateProtocolChangeAttributedWithServerTime() throws Exception {
        String[] s = sessionWithAgent("{}");
        String run = startRun(s[0], s[1]);
        chunk(s[0], run, "Hi");
        end(s[0], run);
        Instant before = Instant.now().minusSeconds(60);
        List<JsonNode> log = client.log(s[0]);
        assertTrue(log.size() >= 8, "session, floor, participants, presence, message, run, chunk, end: " + log);
        for (JsonNode e : log) {
            assertTrue(e.path("type").isTextual() && e.path("key").isTextual(), "type and key: " + e);
            String op = e.path("headers").path("operation").asText();
            assertTrue(List.of("insert", "update", "upsert", "delete").contains(op), "operation: " + e);
            Instant at = Instant.parse(e.path("value").path("at").asText());
            assertTrue(at.isAfter(before), "at is server time: " + e);
            assertEquals(
                    e.path("value").path("at").asText(),
                    e.path("headers").path("timestamp").asText());
            assertTrue(e.path("value").path("actor").path("id").isTextual(), "every value has an actor: " + e);
        }
        JsonNode message = SessionClient.fold(log).get("message/" + s[1]);
        assertEquals("alice", message.path("actor").path("id").asText(), "the verified principal, not the body");
        assertEquals("user", message.path("actor").path("role").asText());
    }

    @Test
    void aMessageRetriedWithItsIdIsWrittenOnce() throws Exception {
        String id = client.create("{}");
        var first = client.post("/v1/sessions/" + id + "/messages", "{\"content\":\"once\",\"id\":\"client-1\"}");
        var again = client.post("/v1/sessions/" + id + "/messages", "{\"content\":\"once\",\"id\":\"client-1\"}");
        assertEquals(201, first.status());
        assertEquals(201, again.status());
        assertEquals(first.body().path("message"), again.body().path("message"), "the retry returns the original");
        long messages = client.log(id).stream()
                .filter(e -> e.path("type").asText().equals("message"))
                .count();
        assertEquals(1, messages, "a retried message id is a no-op");
    }

    @Test
    void runTextEqualsItsChunksAndLiveReadersSawExactlyTheStoredChunks() throws Exception {
        String[] s = sessionWithAgent("{\"rollup_ms\":30}");
        List<String> wsFrames = new CopyOnWriteArrayList<>();
        try (Live sse = client.sse(s[0], "-1");
                Live ws = client.ws(s[0], "-1", wsFrames)) {
            String run = startRun(s[0], s[1]);
            StringBuilder sent = new StringBuilder();
            List<String> agentFrames = new CopyOnWriteArrayList<>();
            try (Live writer = agent.ws(s[0], "now", agentFrames)) {
                for (int i = 0; i < 40; i++) {
                    String d = "t" + i + " ";
                    sent.append(d);
                    // an agent streams over its socket without waiting for each reply
                    writer.send("{\"type\":\"run\",\"action\":\"chunks\",\"run_id\":\"" + run + "\",\"delta\":\"" + d
                            + "\",\"ref\":\"c" + i + "\"}");
                    if (i % 7 == 0) {
                        Thread.sleep(35); // some deltas merge, some do not
                    }
                }
                assertEquals(
                        "reply",
                        SessionClient.frameReply(agentFrames, "c39")
                                .path("type")
                                .asText(),
                        "the last chunk was acknowledged once durable");
            }
            end(s[0], run);
            sse.await(e ->
                    e.type().equals("run") && e.value().path("status").asText().equals("completed"));
            ws.await(e ->
                    e.type().equals("run") && e.value().path("status").asText().equals("completed"));
            List<JsonNode> log = client.log(s[0]);
            assertEquals(sent.toString(), SessionClient.runText(log, run), "chunks concatenate to what was sent");
            assertEquals(
                    sent.toString(),
                    SessionClient.fold(log).get("run/" + run).path("text").asText(),
                    "the run's final text is the aggregate");
            List<JsonNode> stored = chunks(log);
            assertTrue(stored.size() < 40, "rollup merged deltas into fewer chunks: " + stored.size());
            assertEquals(
                    stored,
                    chunks(sse.entries().stream().map(Entry::json).toList()),
                    "SSE devices saw exactly the stored chunks (replay == live)");
            assertEquals(
                    stored,
                    chunks(ws.entries().stream().map(Entry::json).toList()),
                    "WebSocket devices saw exactly the stored chunks, the same as SSE devices");
        }
    }

    private static List<JsonNode> chunks(List<JsonNode> entries) {
        return entries.stream()
                .filter(e -> e.path("type").asText().equals("chunk"))
                .toList();
    }

    @Test
    void aLateJoinerMaterialisesTheAnswerSoFarAndContinuesLive() throws Exception {
        String[] s = sessionWithAgent("{\"rollup_ms\":0}");
        String run = startRun(s[0], s[1]);
        for (int i = 0; i < 10; i++) {
            chunk(s[0], run, "a" + i);
        }
        JsonNode view = client.get("/v1/sessions/" + s[0]).body();
        assertEquals(
                "a0a1a2a3a4a5a6a7a8a9",
                view.path("runs").get(0).path("text").asText(),
                "the session view holds the answer so far");
        List<String> frames = new CopyOnWriteArrayList<>();
        try (Live late = client.ws(s[0], "-1", frames)) {
            late.await(e -> e.key().equals(run + ":9"));
            for (int i = 10; i < 20; i++) {
                chunk(s[0], run, "a" + i);
            }
            end(s[0], run);
            late.await(e ->
                    e.type().equals("run") && e.value().path("status").asText().equals("completed"));
            StringBuilder expected = new StringBuilder();
            for (int i = 0; i < 20; i++) {
                expected.append("a").append(i);
            }
            assertEquals(
                    expected.toString(),
                    SessionClient.runText(
                            late.entries().stream().map(Entry::json).toList(), run),
                    "the late joiner got every chunk once, in order, without a gap");
            JsonNode subscribed = SessionClient.JSON.readTree(frames.get(0));
            assertEquals("subscribed", subscribed.path("type").asText(), "the first frame says how it started");
            assertFalse(subscribed.path("recovered").asBoolean(), "no offset given: nothing was recovered");
        }
    }

    @Test
    void aKilledDeviceResumesFromItsLastOffsetOnEveryTransport() throws Exception {
        for (String transport : List.of("sse", "ws", "long-poll", "get")) {
            String[] s = sessionWithAgent("{\"rollup_ms\":0}");
            String run = startRun(s[0], s[1]);
            for (int i = 0; i < 5; i++) {
                chunk(s[0], run, "x" + i);
            }
            String resumeAt;
            List<JsonNode> before = new ArrayList<>();
            if (transport.equals("sse") || transport.equals("ws")) {
                Live first =
                        transport.equals("sse") ? client.sse(s[0], "-1") : client.ws(s[0], "-1", new ArrayList<>());
                Entry last = first.await(e -> e.key().equals(run + ":4") && e.offset() != null);
                first.kill(); // destroyed mid-run
                for (Entry e : first.entries()) {
                    before.add(e.json());
                    if (e == last) {
                        break;
                    }
                }
                resumeAt = last.offset();
            } else {
                var r = client.get("/v1/sessions/" + s[0] + "/events?offset=-1");
                r.body().forEach(before::add);
                resumeAt =
                        r.response().headers().firstValue("Stream-Next-Offset").orElseThrow();
            }
            for (int i = 5; i < 10; i++) {
                chunk(s[0], run, "x" + i);
            }
            end(s[0], run);
            List<JsonNode> after = new ArrayList<>();
            switch (transport) {
                case "sse" -> {
                    try (Live again = client.sse(s[0], resumeAt)) {
                        again.await(e -> e.type().equals("run")
                                && e.value().path("status").asText().equals("completed"));
                        again.entries().forEach(e -> after.add(e.json()));
                    }
                }
                case "ws" -> {
                    List<String> frames = new CopyOnWriteArrayList<>();
                    try (Live again = client.ws(s[0], resumeAt, frames)) {
                        again.await(e -> e.type().equals("run")
                                && e.value().path("status").asText().equals("completed"));
                        again.entries().forEach(e -> after.add(e.json()));
                        assertTrue(
                                SessionClient.JSON
                                        .readTree(frames.get(0))
                                        .path("recovered")
                                        .asBoolean(),
                                "a resumed offset is recovered");
                    }
                }
                case "long-poll" -> {
                    var r = client.get("/v1/sessions/" + s[0] + "/events?live=long-poll&offset=" + resumeAt);
                    assertEquals(200, r.status());
                    r.body().forEach(after::add);
                    after.addAll(client.log(
                            s[0],
                            r.response()
                                    .headers()
                                    .firstValue("Stream-Next-Offset")
                                    .orElseThrow()));
                }
                default -> after.addAll(client.log(s[0], resumeAt));
            }
            List<JsonNode> joined = new ArrayList<>(before);
            joined.addAll(after);
            List<JsonNode> full = client.log(s[0]);
            assertEquals(
                    full.subList(0, joined.size()),
                    joined,
                    transport
                            + ": what was seen before the kill plus the resumed read is the log, no duplicate, no gap");
            assertEquals("x0x1x2x3x4x5x6x7x8x9", SessionClient.runText(joined, run), transport);
        }
    }

    @Test
    void theRawStreamAndTheEventsRouteServeTheSameLog() throws Exception {
        String[] s = sessionWithAgent("{}");
        var raw = client.get("/v1/stream/sessions/" + s[0] + "?offset=-1");
        var events = client.get("/v1/sessions/" + s[0] + "/events?offset=-1");
        assertEquals(200, raw.status());
        assertEquals(events.body(), raw.body(), "one log, two routes");
        assertEquals(
                events.response().headers().firstValue("Stream-Next-Offset"),
                raw.response().headers().firstValue("Stream-Next-Offset"));
        var write = client.post("/v1/stream/sessions/" + s[0], "{\"type\":\"message\"}");
        assertEquals(403, write.status(), "the log is read-only on the stream API: " + write.raw());
    }

    @Test
    void aSnapshotPlusTheTailEqualsTheFullReplay() throws Exception {
        String[] s = sessionWithAgent("{\"rollup_ms\":0}");
        String run = startRun(s[0], s[1]);
        for (int i = 0; i < 30; i++) {
            chunk(s[0], run, "c" + i);
            client.post(
                    "/v1/sessions/" + s[0] + "/presence", "{\"status\":\"" + (i % 2 == 0 ? "away" : "online") + "\"}");
        }
        var snap = client.get("/v1/sessions/" + s[0] + "/snapshot");
        assertEquals(200, snap.status());
        JsonNode body = snap.body();
        assertEquals(
                "snapshot-start", body.get(0).path("headers").path("control").asText());
        assertEquals(
                "snapshot-end",
                body.get(body.size() - 1).path("headers").path("control").asText());
        String next = snap.response().headers().firstValue("Stream-Next-Offset").orElseThrow();
        for (int i = 30; i < 35; i++) {
            chunk(s[0], run, "c" + i);
        }
        end(s[0], run);
        List<JsonNode> replayed = new ArrayList<>();
        body.forEach(replayed::add);
        replayed.addAll(client.log(s[0], next));
        List<JsonNode> full = client.log(s[0]);
        assertTrue(body.size() < full.size(), "the snapshot is shorter than the log it folds");
        Map<String, JsonNode> fromSnapshot = SessionClient.fold(replayed);
        assertEquals(SessionClient.fold(full), fromSnapshot, "snapshot + tail materialises to the same state");
    }

    @Test
    void theAuditExportHasEveryEntryWithActorTimeAndOffset() throws Exception {
        String[] s = sessionWithAgent("{}");
        String run = startRun(s[0], s[1]);
        chunk(s[0], run, "done");
        end(s[0], run);
        var audit = client.get("/v1/sessions/" + s[0] + "/audit?format=jsonl");
        assertEquals(200, audit.status(), audit.raw());
        String[] lines = audit.raw().split("\n");
        List<JsonNode> log = client.log(s[0]);
        assertEquals(log.size(), lines.length, "one line per entry");
        String previous = "";
        for (int i = 0; i < lines.length; i++) {
            JsonNode line = SessionClient.JSON.readTree(lines[i]);
            String offset = line.path("offset").asText();
            assertTrue(offset.compareTo(previous) > 0, "offsets increase: " + line);
            previous = offset;
            var copy = line.deepCopy();
            ((com.fasterxml.jackson.databind.node.ObjectNode) copy).remove("offset");
            assertEquals(log.get(i), copy, "the line is the entry itself");
            assertNotNull(line.path("value").get("actor"), "actor");
            assertNotNull(line.path("value").get("at"), "time");
        }
        // the offset of a line is where a reader resumes to get the entries after it
        List<JsonNode> tail = client.log(
                s[0],
                SessionClient.JSON
                        .readTree(lines[lines.length - 2])
                        .path("offset")
                        .asText());
        assertEquals(List.of(log.get(log.size() - 1)), tail, "reading from a line's offset gives the next entries");
    }

    @Test
    void anOffsetThatCannotBeResumedIsSaidSoAndTheLogStartsOver() throws Exception {
        String[] a = sessionWithAgent("{}");
        String[] b = sessionWithAgent("{}");
        String foreign =
                client.get("/v1/sessions/" + a[0]).body().path("next_offset").asText();
        List<String> frames = new CopyOnWriteArrayList<>();
        try (Live ws = client.ws(b[0], foreign, frames)) {
            ws.await(e -> e.key().equals(b[1]));
            JsonNode subscribed = SessionClient.JSON.readTree(frames.get(0));
            assertEquals("subscribed", subscribed.path("type").asText());
            assertFalse(
                    subscribed.path("recovered").asBoolean(), "another log's offset is not recovered: " + subscribed);
            assertEquals("session", ws.entries().get(0).type(), "delivery starts over at the log's first entry");
        }
        var http = client.get("/v1/sessions/" + b[0] + "/events?offset=" + foreign);
        assertEquals(410, http.status(), "over HTTP the same offset is an explicit 410, never a silent gap");
    }

    @Test
    void webSocketActionsAreAnsweredWithTheirRef() throws Exception {
        String[] s = sessionWithAgent("{}");
        List<String> frames = new CopyOnWriteArrayList<>();
        try (Live ws = client.ws(s[0], "now", frames)) {
            ws.send("{\"type\":\"message\",\"content\":\"over the socket\",\"ref\":\"m1\"}");
            JsonNode reply = SessionClient.frameReply(frames, "m1");
            assertEquals("reply", reply.path("type").asText(), reply.toString());
            assertEquals(
                    "alice",
                    reply.path("result")
                            .path("message")
                            .path("actor")
                            .path("id")
                            .asText());
            ws.send("{\"type\":\"dance\",\"ref\":\"bad\"}");
            JsonNode error = SessionClient.frameReply(frames, "bad");
            assertEquals("error", error.path("type").asText());
            assertEquals(400, error.path("status").asInt(), error.toString());
            ws.send("{\"type\":\"signal\",\"kind\":\"approve\",\"target\":\"call_x\",\"ref\":\"ap\"}");
            assertEquals(
                    403,
                    SessionClient.frameReply(frames, "ap").path("status").asInt(),
                    "the socket's actions need the same capabilities as the routes");
            ws.await(e -> e.value().path("content").asText().equals("over the socket"));
        }
    }

    @Test
    void anExternalAgentsToolCallWaitsForTheFirstDecision() throws Exception {
        String[] s = sessionWithAgent("{}");
        String run = startRun(s[0], s[1]);
        var call = agent.post(
                "/v1/sessions/" + s[0] + "/runs/" + run + "/tool_calls",
                "{\"id\":\"call_ext\",\"name\":\"refund\",\"arguments\":{\"amount\":5},\"approval\":\"required\"}");
        assertEquals(201, call.status(), call.raw());
        assertEquals("approval_required", call.body().path("status").asText());
        assertEquals(
                "waiting_approval",
                client.latest(s[0], "run", run).path("status").asText());
        assertEquals(
                409,
                agent.post("/v1/sessions/" + s[0] + "/tool_calls/call_ext/output", "{\"output\":\"x\"}")
                        .status(),
                "no output before the decision");
        assertEquals(
                403,
                client.post("/v1/sessions/" + s[0] + "/tool_calls/call_ext/approve", "{}")
                        .status(),
                "alice may not approve");
        SessionClient approver = new SessionClient(server, AuthFixture.BACKEND);
        assertEquals(
                200,
                approver.post("/v1/sessions/" + s[0] + "/tool_calls/call_ext/deny", "{\"reason\":\"no\"}")
                        .status());
        assertEquals(
                409,
                approver.post("/v1/sessions/" + s[0] + "/tool_calls/call_ext/approve", "{}")
                        .status());
        JsonNode decided = client.latest(s[0], "tool_call", "call_ext");
        assertEquals("denied", decided.path("status").asText());
        assertEquals("running", client.latest(s[0], "run", run).path("status").asText(), "the run goes on");
        end(s[0], run);
    }

    @Test
    void anAckRecordsTheHighestOffsetPerDevice() throws Exception {
        String[] s = sessionWithAgent("{}");
        List<String> offsets = new ArrayList<>();
        for (String line :
                client.get("/v1/sessions/" + s[0] + "/audit?format=jsonl").raw().split("\n")) {
            offsets.add(SessionClient.JSON.readTree(line).path("offset").asText());
        }
        String high = offsets.get(offsets.size() - 1);
        String low = offsets.get(0);
        var ack = client.post("/v1/sessions/" + s[0] + "/ack", "{\"offset\":\"" + high + "\",\"device\":\"phone\"}");
        assertEquals(200, ack.status(), ack.raw());
        var lower = client.post("/v1/sessions/" + s[0] + "/ack", "{\"offset\":\"" + low + "\",\"device\":\"phone\"}");
        assertEquals(high, lower.body().path("offset").asText(), "a lower offset does not move it back");
        assertEquals(
                200,
                client.post("/v1/sessions/" + s[0] + "/ack", "{\"offset\":\"" + low + "\",\"device\":\"laptop\"}")
                        .status());
        JsonNode phone = client.latest(s[0], "delivery", "alice:phone");
        assertEquals(high, phone.path("offset").asText());
        assertEquals("alice", phone.path("actor").path("id").asText());
        assertEquals(
                low,
                client.latest(s[0], "delivery", "alice:laptop").path("offset").asText(),
                "per device");
        assertEquals(
                400,
                client.post("/v1/sessions/" + s[0] + "/ack", "{\"offset\":\"yesterday\"}")
                        .status());
    }

    @Test
    void unknownSessionsAndBadInputAreClearErrors() throws Exception {
        assertEquals(
                404, client.get("/v1/sessions/sess_000000000000000000000000").status());
        assertEquals(404, client.get("/v1/sessions/nonsense/events").status());
        var bad = client.post("/v1/sessions", "{\"policy\":{\"multitask\":\"sometimes\"}}");
        assertEquals(400, bad.status());
        assertTrue(bad.raw().contains("multitask"), "the error names the field: " + bad.raw());
        var unknown = client.post("/v1/sessions", "{\"colour\":1}");
        assertEquals(400, unknown.status());
        String id = client.create("{}");
        assertEquals(400, client.post("/v1/sessions/" + id + "/messages", "{}").status(), "content is required");
        assertEquals(400, client.post("/v1/sessions/" + id + "/messages", "[1]").status());
        assertEquals(
                404,
                client.post("/v1/sessions/" + id + "/runs/run_x/cancel", "{}").status());
        var notAgent = client.post("/v1/sessions/" + id + "/runs", "{}");
        assertEquals(403, notAgent.status(), "only an agent participant writes runs: " + notAgent.raw());
        assertNull(client.get("/v1/sessions/" + id).body().get("error"));
    }
}
