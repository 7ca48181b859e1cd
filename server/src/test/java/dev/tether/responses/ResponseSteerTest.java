package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.responses.ResponsesSocketTest.Socket;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code response.steer} over the Responses WebSocket: a real server, a real WebSocket client and
 * a scripted upstream that holds a response mid-answer (or before its first token) so the steer
 * lands while it runs.
 */
class ResponseSteerTest {
    @TempDir
    Path dir;

    ScriptedUpstream upstream;
    TestServer server;

    @BeforeEach
    void start() throws Exception {
        upstream = ScriptedUpstream.start();
        server = TestServer.start(dir, b -> b.upstream(URI.create(upstream.url())));
    }

    @AfterEach
    void stop() {
        server.close();
        upstream.close();
    }

    /** Frames up to and including the first of type {@code type}. */
    private static List<JsonNode> until(Socket s, String type) throws InterruptedException {
        List<JsonNode> got = new ArrayList<>();
        while (true) {
            JsonNode f = s.next();
            got.add(f);
            if (f.path("type").asText().equals(type)) {
                return got;
            }
        }
    }

    private static JsonNode last(List<JsonNode> frames) {
        return frames.get(frames.size() - 1);
    }

    private static List<String> types(List<JsonNode> frames) {
        return frames.stream().map(f -> f.path("type").asText()).toList();
    }

    private static String steer(String id, String input) {
        return "{\"type\":\"response.steer\",\"previous_response_id\":\"" + id + "\",\"input\":" + input + "}";
    }

    @Test
    void anAcceptedSteerEndsTheRunningResponseSteeredAndItsSuccessorContinuesWithTheSteerInput() throws Exception {
        upstream.then(new ScriptedUpstream.HangAfter(List.of("Once ", "upon ")));
        Socket s = Socket.open(server);
        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"instructions\":\"be brief\","
                + "\"temperature\":0.3,\"max_output_tokens\":77,\"input\":\"tell a story\"}");
        String id =
                until(s, "response.created").get(0).path("response").path("id").asText();
        until(s, "response.output_text.delta");
        until(s, "response.output_text.delta");

        s.send(steer(id, "\"make it about cats\""));
        List<JsonNode> steered = until(s, "response.incomplete");
        JsonNode accepted = steered.stream()
                .filter(f -> f.path("type").asText().startsWith("response.steer"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no answer to the steer before the end: " + types(steered)));
        assertEquals("response.steer.accepted", accepted.path("type").asText());
        assertEquals(id, accepted.path("previous_response_id").asText(), "the answer names the steered response");
        JsonNode stopped = last(steered).path("response");
        assertEquals(id, stopped.path("id").asText());
        assertEquals("incomplete", stopped.path("status").asText());
        assertEquals(
                "steered", stopped.path("incomplete_details").path("reason").asText());
        assertEquals("Once upon ", ResponsesClient.outputText(stopped), "the partial output is kept");

        List<JsonNode> next = until(s, "response.completed");
        assertEquals("response.created", next.get(0).path("type").asText(), "a successor follows: " + types(next));
        JsonNode successor = last(next).path("response");
        assertEquals(id, successor.path("previous_response_id").asText(), "the successor continues the steered one");
        assertEquals("echo: make it about cats", ResponsesClient.outputText(successor));
        assertEquals("be brief", successor.path("instructions").asText(), "the steered request's settings carry over");
        assertEquals(0.3, successor.path("temperature").asDouble());
        assertEquals(77, successor.path("max_output_tokens").asInt());
        assertFalse(successor.path("store").asBoolean(), "store:false carries over");

        JsonNode sent = upstream.requests().get(1);
        List<String> context = new ArrayList<>();
        for (JsonNode m : sent.path("messages")) {
            context.add(m.path("role").asText() + ": " + m.path("content").asText());
        }
        assertEquals(
                List.of("system: be brief", "user: tell a story", "assistant: Once upon ", "user: make it about cats"),
                context,
                "the successor's context is the steered turn, its partial answer, then the steer input");
        assertEquals(0.3, sent.path("temperature").asDouble());

        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"previous_response_id\":\""
                + successor.path("id").asText() + "\",\"input\":\"and then?\"}");
        assertEquals(
                "echo: and then?",
                ResponsesClient.outputText(last(until(s, "response.completed")).path("response")),
                "the socket keeps working, and the successor is the lane's head");
    }

    @Test
    void steersBeforeTheFirstTokenArePendingAndAppliedTogetherInOrderOnceItStarts() throws Exception {
        CountDownLatch firstToken = new CountDownLatch(1);
        upstream.then(new ScriptedUpstream.Gate(firstToken, List.of("First", " second", " third")));
        Socket s = Socket.open(server);
        s.send("{\"type\":\"response.create\",\"stream_id\":\"a\",\"model\":\"m\",\"input\":\"start\"}");
        String id =
                until(s, "response.created").get(0).path("response").path("id").asText();

        s.send("{\"type\":\"response.steer\",\"stream_id\":\"a\",\"previous_response_id\":\"" + id
                + "\",\"input\":\"one\"}");
        JsonNode first = until(s, "response.steer.pending").getLast();
        assertEquals(id, first.path("previous_response_id").asText());
        assertEquals("a", first.path("stream_id").asText(), "the answer is tagged with its lane");
        s.send("{\"type\":\"response.steer\",\"stream_id\":\"a\",\"previous_response_id\":\"" + id
                + "\",\"input\":[{\"role\":\"user\",\"content\":\"two\"}]}");
        until(s, "response.steer.pending");

        firstToken.countDown();
        JsonNode stopped = last(until(s, "response.incomplete")).path("response");
        assertEquals(
                "steered", stopped.path("incomplete_details").path("reason").asText());
        assertEquals("First", ResponsesClient.outputText(stopped), "applied at the first token boundary");
        List<JsonNode> next = until(s, "response.completed");
        for (JsonNode f : next) {
            assertEquals("a", f.path("stream_id").asText(), "the successor runs on the same lane: " + f);
        }
        assertEquals(
                id, last(next).path("response").path("previous_response_id").asText());
        JsonNode messages = upstream.requests().get(1).path("messages");
        int n = messages.size();
        assertEquals("one", messages.get(n - 2).path("content").asText(), "both steers, in the order sent");
        assertEquals("two", messages.get(n - 1).path("content").asText(), "both steers, in the order sent");
        assertEquals("First", messages.get(n - 3).path("content").asText());
        assertEquals(2, upstream.requests().size(), "one successor for both steers");
    }

    @Test
    void pendingSteersAreBoundedAndEachIsAnsweredFailedWhenTheTargetIsCancelled() throws Exception {
        upstream.then(new ScriptedUpstream.Hang());
        Socket s = Socket.open(server);
        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"input\":\"start\"}");
        String id =
                until(s, "response.created").get(0).path("response").path("id").asText();
        for (int i = 0; i < SocketSession.MAX_STEERS; i++) {
            s.send(steer(id, "\"steer " + i + "\""));
            until(s, "response.steer.pending");
        }
        s.send(steer(id, "\"one too many\""));
        JsonNode tooMany = s.next();
        assertEquals("response.steer.failed", tooMany.path("type").asText(), "the bound is a decision: " + tooMany);
        assertEquals(
                "too_many_pending_steers", tooMany.path("error").path("code").asText());
        assertEquals(429, tooMany.path("status").asInt());

        assertEquals(
                200,
                new ResponsesClient(server)
                        .post("/v1/responses/" + id + "/cancel", "")
                        .status());
        until(s, "response.cancelled");
        for (int i = 0; i < SocketSession.MAX_STEERS; i++) {
            JsonNode failed = s.next();
            assertEquals("response.steer.failed", failed.path("type").asText(), "each pending steer is answered");
            assertEquals(id, failed.path("previous_response_id").asText());
            assertEquals("steer_not_applied", failed.path("error").path("code").asText());
        }
        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"input\":\"next\"}");
        JsonNode after = last(until(s, "response.completed")).path("response");
        assertEquals("echo: next", ResponsesClient.outputText(after), "no successor; the lane runs the next request");
        assertTrue(after.path("previous_response_id").isNull(), "the request sent, not a successor");
    }

    @Test
    void aSteerThatCannotApplyFailsWithItsReasonAndTheSocketStaysUsable() throws Exception {
        Socket s = Socket.open(server);
        s.send(steer("resp_unknown", "\"x\""));
        JsonNode unknown = s.next();
        assertEquals("response.steer.failed", unknown.path("type").asText());
        assertEquals("resp_unknown", unknown.path("previous_response_id").asText());
        assertEquals("response_not_found", unknown.path("error").path("code").asText());
        assertEquals("previous_response_id", unknown.path("error").path("param").asText());
        assertEquals("invalid_request_error", unknown.path("error").path("type").asText());

        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"input\":\"hi\"}");
        String finished =
                last(until(s, "response.completed")).path("response").path("id").asText();
        s.send(steer(finished, "\"too late\""));
        JsonNode late = s.next();
        assertEquals("response.steer.failed", late.path("type").asText());
        assertEquals("response_not_found", late.path("error").path("code").asText(), "a finished response: " + late);
        assertTrue(late.path("error").path("message").asText().contains(finished), "the message names the id");

        s.send(steer(finished, "42"));
        JsonNode badInput = s.next();
        assertEquals("response.steer.failed", badInput.path("type").asText());
        assertEquals("invalid_input", badInput.path("error").path("code").asText());
        assertEquals(400, badInput.path("status").asInt());
        s.send(steer(finished, "[]"));
        assertEquals("invalid_input", s.next().path("error").path("code").asText(), "an empty input");

        s.send("{\"type\":\"response.steer\",\"input\":\"no target\"}");
        JsonNode noTarget = s.next();
        assertEquals("response.steer.failed", noTarget.path("type").asText());
        assertEquals(
                "previous_response_id", noTarget.path("error").path("param").asText());
        s.send("{\"type\":\"response.steer\",\"stream_id\":\"\",\"previous_response_id\":\"resp_x\",\"input\":\"x\"}");
        assertEquals("invalid_stream_id", s.next().path("error").path("code").asText());

        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"previous_response_id\":\"" + finished
                + "\",\"input\":\"still there?\"}");
        JsonNode after = last(until(s, "response.completed")).path("response");
        assertEquals("echo: still there?", ResponsesClient.outputText(after), "the socket keeps working");
        assertEquals(2, upstream.requests().size(), "only the two creates reached the model; no failed steer did");
    }

    @Test
    void aResponseUsingContextManagementIsNotSteered() throws Exception {
        upstream.then(new ScriptedUpstream.Text(200, List.of("a", "b", "c"), -1, 0));
        Socket s = Socket.open(server);
        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"input\":\"hi\","
                + "\"context_management\":[{\"type\":\"compaction\",\"compact_threshold\":1000000}]}");
        String id =
                until(s, "response.created").get(0).path("response").path("id").asText();
        until(s, "response.output_text.delta");
        s.send(steer(id, "\"change course\""));
        List<JsonNode> rest = until(s, "response.completed");
        assertTrue(
                rest.stream()
                        .anyMatch(f -> f.path("type").asText().equals("response.steer.failed")
                                && f.path("error").path("code").asText().equals("steering_not_supported")),
                "the spec excludes compacting responses: " + types(rest));
        assertEquals("abc", ResponsesClient.outputText(last(rest).path("response")), "the response was not stopped");
    }

    @Test
    void aResponseInAConversationIsNotSteeredAndRunsToItsEnd() throws Exception {
        String conversation = new ResponsesClient(server)
                .post("/v1/conversations", "{}")
                .body()
                .path("id")
                .asText();
        upstream.then(new ScriptedUpstream.Text(200, List.of("a", "b", "c", "d", "e"), -1, 0));
        Socket s = Socket.open(server);
        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"conversation\":\"" + conversation
                + "\",\"input\":\"hi\"}");
        String id =
                until(s, "response.created").get(0).path("response").path("id").asText();
        until(s, "response.output_text.delta");
        s.send(steer(id, "\"change course\""));
        List<JsonNode> rest = until(s, "response.completed");
        JsonNode refused = rest.stream()
                .filter(f -> f.path("type").asText().equals("response.steer.failed"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no response.steer.failed: " + types(rest)));
        assertEquals(
                "steering_not_supported", refused.path("error").path("code").asText());
        assertEquals(id, refused.path("previous_response_id").asText());
        assertEquals("abcde", ResponsesClient.outputText(last(rest).path("response")), "the response was not stopped");
        assertEquals(1, upstream.requests().size(), "no successor");
    }

    @Test
    void aResponseCallingToolsIsNotSteeredWhetherTheSteerCameBeforeOrDuringTheCall() throws Exception {
        String tools =
                ",\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}]";
        for (boolean beforeFirstToken : List.of(false, true)) {
            CountDownLatch start = new CountDownLatch(1);
            CountDownLatch rest = new CountDownLatch(1);
            upstream.then(new ScriptedUpstream.GatedCall(
                    start, rest, "call_1", "get_weather", List.of("{\"city\":", "\"Paris\"}")));
            Socket s = Socket.open(server);
            s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"input\":\"weather?\"" + tools
                    + "}");
            String id = until(s, "response.created")
                    .get(0)
                    .path("response")
                    .path("id")
                    .asText();
            if (beforeFirstToken) {
                s.send(steer(id, "\"in Rome\""));
                until(s, "response.steer.pending"); // no output yet
                start.countDown();
            } else {
                start.countDown();
                until(s, "response.output_item.added");
                s.send(steer(id, "\"in Rome\""));
            }
            // The steer's answer and the end, in whichever order; the call's rest is released once
            // the answer is in (a steer that stopped the call would end it before that).
            JsonNode failed = null;
            JsonNode end = null;
            while (failed == null || end == null) {
                JsonNode f = s.next();
                String type = f.path("type").asText();
                if (type.startsWith("response.steer")) {
                    failed = f;
                    rest.countDown();
                } else if (type.equals("response.completed") || type.equals("response.incomplete")) {
                    end = f;
                }
                if (beforeFirstToken) rest.countDown();
            }
            List<JsonNode> frames = List.of(end);
            assertEquals("response.steer.failed", failed.path("type").asText(), failed.toString());
            assertEquals(
                    "tool_call_in_progress", failed.path("error").path("code").asText(), failed.toString());
            JsonNode done = last(frames).path("response");
            assertEquals("completed", done.path("status").asText(), "the call runs to its end: " + done);
            assertEquals(
                    "function_call", done.path("output").path(0).path("type").asText());
            assertEquals(
                    "{\"city\":\"Paris\"}",
                    done.path("output").path(0).path("arguments").asText());

            s.send(
                    "{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"previous_response_id\":\"" + id
                            + "\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"sunny\"}]}");
            assertEquals(
                    "completed",
                    last(until(s, "response.completed"))
                            .path("response")
                            .path("status")
                            .asText(),
                    "no successor was queued, and the socket goes on");
        }
    }
}
