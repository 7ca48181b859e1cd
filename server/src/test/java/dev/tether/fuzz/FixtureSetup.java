package dev.tether.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.fuzz.RawHttp.Answer;
import dev.tether.fuzz.RawHttp.Exchange;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Creates a campaign's fixtures with plain valid requests: four streams (text, JSON, binary, a
 * closed one), a stored response and a conversation. What cannot be created (no backend) is
 * replaced by a plausible id the server does not know, and said in the log.
 */
final class FixtureSetup {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Target target;
    private final String prefix;
    private final PrintStream log;

    FixtureSetup(Target target, long seed, PrintStream log) {
        this.target = target;
        // a fresh prefix per run: replays against a long-running server do not collide
        this.prefix = "fz-" + seed + "-" + Long.toHexString(System.nanoTime() & 0xffffff);
        this.log = log;
    }

    Fixtures create() {
        List<Fixtures.Stream> streams = new ArrayList<>();
        streams.add(stream("text", "text/plain", "hello\n", false));
        streams.add(stream("json", "application/json", "[{\"n\":1},{\"n\":2}]", false));
        streams.add(stream("bin", "application/octet-stream", "\u0000\u0001\u00ff", false));
        streams.add(stream("closed", "text/plain", "bye", true));
        String response = "resp_" + "0".repeat(48);
        Answer r = send(
                "POST",
                "/v1/responses",
                "application/json",
                "{\"model\":\"tiny\",\"input\":\"fixture\",\"max_output_tokens\":2}");
        if (r != null && r.status() == 200) {
            response = field(r, "id", response);
        } else {
            log.println("fixture: no stored response (" + r + "); Responses cases use a made-up id");
        }
        String conversation = "conv_" + "0".repeat(48);
        String item = "msg_" + "0".repeat(48);
        Answer c = send(
                "POST",
                "/v1/conversations",
                "application/json",
                "{\"items\":[{\"type\":\"message\",\"role\":\"user\",\"content\":\"fixture\"}]}");
        if (c != null && c.status() == 200) {
            conversation = field(c, "id", conversation);
            Answer items = send("GET", "/v1/conversations/" + conversation + "/items", null, "");
            try {
                item = JSON.readTree(items.body())
                        .path("data")
                        .path(0)
                        .path("id")
                        .asText(item);
            } catch (java.io.IOException | NullPointerException e) {
                log.println("fixture: conversation items unreadable (" + items + ")");
            }
        } else {
            log.println("fixture: no conversation (" + c + "); Conversations cases use a made-up id");
        }
        return new Fixtures(prefix, streams, response, conversation, item);
    }

    private Fixtures.Stream stream(String name, String type, String body, boolean closed) {
        String path = prefix + "/" + name;
        Answer put = send("PUT", "/v1/stream/" + path, type, body, closed ? "Stream-Closed: true\r\n" : "");
        if (put == null || put.status() != 201) {
            throw new IllegalStateException("cannot create the fixture stream " + path + ": " + put
                    + " (is the server up, and the token right?)");
        }
        String tail = put.header("Stream-Next-Offset");
        return new Fixtures.Stream(path, type, tail == null ? "-1" : tail, closed);
    }

    private Answer send(String method, String path, String type, String body, String... extra) {
        byte[] content = Text.latin1(body);
        StringBuilder head =
                new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: " + target.hostHeader() + "\r\n");
        head.append(target.authLine());
        if (type != null) {
            head.append("Content-Type: ").append(type).append("\r\n");
        }
        for (String e : extra) {
            head.append(e);
        }
        head.append("Content-Length: ").append(content.length).append("\r\n\r\n");
        Exchange x = RawHttp.exchange(
                target.host(),
                target.port(),
                WsFrames.concat(Text.latin1(head.toString()), content),
                false,
                List.of(method),
                1,
                60_000,
                RawHttp.SsePolicy.TO_END);
        return x.first();
    }

    private static String field(Answer a, String name, String fallback) {
        try {
            JsonNode node = JSON.readTree(a.body());
            return node.path(name).asText(fallback);
        } catch (java.io.IOException e) {
            return fallback;
        }
    }
}
