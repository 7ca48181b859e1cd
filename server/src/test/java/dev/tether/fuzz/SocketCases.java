package dev.tether.fuzz;

import static dev.tether.fuzz.WsFrames.BINARY;
import static dev.tether.fuzz.WsFrames.CLOSE;
import static dev.tether.fuzz.WsFrames.CONTINUATION;
import static dev.tether.fuzz.WsFrames.PING;
import static dev.tether.fuzz.WsFrames.TEXT;
import static dev.tether.fuzz.WsFrames.frame;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.fuzz.FuzzCase.WsExpect;
import dev.tether.fuzz.FuzzCase.WsStep;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The Responses WebSocket: handshake variants (as HTTP cases), then sessions after a real
 * handshake that send fuzzed {@code response.create} frames, pings, and frames that break RFC
 * 6455 in one specific way each, with the close code the RFC asks for: 1002 for a protocol
 * error, 1007 for text that is not UTF-8, 1009 for a frame or a message above the server's
 * {@code --max-body} (1 MiB for the fuzzed server: a browser sends a message as one frame, so the
 * frame limit is the message limit).
 */
final class SocketCases {
    static final int MAX_MESSAGE = 1 << 20;
    static final int MAX_FRAME = MAX_MESSAGE;
    private static final WsExpect PROTOCOL_ERROR = new WsExpect.Close(List.of(1002), true);
    private static final WsExpect NOT_UTF8 = new WsExpect.Close(List.of(1007), true);
    private static final WsExpect TOO_BIG = new WsExpect.Close(List.of(1009), true);
    private static final WsExpect ONE_REPLY = new WsExpect.Replies(1, List.of());
    private static final WsExpect ONE_REPLY_OR_1003 = new WsExpect.Replies(1, List.of(1003));

    private SocketCases() {}

    static FuzzCase generate(CaseId id, Target t, Fixtures fx, Dice d) {
        return switch (d.below(20)) {
            case 0, 1 -> handshake(id, d);
            case 2, 3, 4, 5, 6, 7 -> creates(id, fx, d);
            case 8 -> ping(id, d);
            case 9, 10, 11 -> violation(id, fx, d);
            case 12 -> closes(id, d);
            case 13, 14 -> utf8(id, fx, d);
            case 15, 16 -> sizes(id, fx, d);
            case 17 -> fragmented(id, fx, d);
            case 18 -> socket(id, "ws.binary", binaryCreate(create(fx, d)));
            default ->
                socket(
                        id,
                        "ws.processed",
                        new WsStep(
                                frame(
                                        true,
                                        TEXT,
                                        FuzzCase.utf8("{\"type\":\"response.processed\",\"sequence_number\":3}")),
                                "text {\"type\":\"response.processed\"}",
                                new WsExpect.Nothing()),
                        textCreate(create(fx, d)));
        };
    }

    private static FuzzCase.Socket socket(CaseId id, String kind, WsStep... steps) {
        return new FuzzCase.Socket(id, kind, List.of(steps));
    }

    private static WsStep textCreate(byte[] json) {
        return new WsStep(frame(true, TEXT, json), "text create", ONE_REPLY, json);
    }

    private static WsStep binaryCreate(byte[] json) {
        return new WsStep(frame(true, BINARY, json), "binary create", ONE_REPLY_OR_1003, json);
    }

    /** A valid, cheap {@code response.create} frame body. */
    static byte[] create(Fixtures fx, Dice d) {
        ObjectNode body = ResponsesCases.createBody(d, fx);
        body.remove("background");
        body.put("type", "response.create");
        if (d.chance(0.2)) {
            body.put("stream_id", d.pick("lane-1", "lane-2", "a.b_c"));
        }
        if (d.chance(0.1)) {
            body.put("generate", false);
        }
        return FuzzCase.utf8(body.toString());
    }

    private static FuzzCase.Http handshake(CaseId id, Dice d) {
        RequestBuilder r = new RequestBuilder("ws.handshake", "GET", "/v1/responses");
        r.setHeader("Upgrade", "websocket").setHeader("Connection", "Upgrade");
        r.setHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==").setHeader("Sec-WebSocket-Version", "13");
        switch (d.below(8)) {
            case 0 -> r.setHeader("Sec-WebSocket-Version", d.pick("0", "8", "14", "abc", "", "13, 8"));
            case 1 -> r.setHeader("Sec-WebSocket-Key", d.pick(null, "", "short", "!!!!", "a".repeat(5_000)));
            case 2 -> r.setHeader("Connection", d.pick(null, "keep-alive", "close"));
            case 3 -> r.method = d.pick("POST", "PUT", "HEAD");
            case 4 ->
                r.path = d.pick(
                        "/v1/stream/x", "/v1/conversations", "/health", "/v1/responses/resp_x", "/v1/responses?x=%zz");
            case 5 ->
                r.setHeader(
                        "Sec-WebSocket-Extensions",
                        d.pick("permessage-deflate", "x-bogus; a=1", "permessage-deflate; server_max_window_bits=99"));
            case 6 -> r.setHeader("Sec-WebSocket-Protocol", d.pick("", "chat, superchat", "\u00ff"));
            default -> HttpMutations.any(d, r);
        }
        r.mutated("variant");
        return r.build(id);
    }

    private static FuzzCase.Socket creates(CaseId id, Fixtures fx, Dice d) {
        List<WsStep> steps = new ArrayList<>();
        StringBuilder kind = new StringBuilder("ws.create");
        int n = d.between(1, 3);
        for (int i = 0; i < n; i++) {
            byte[] json = create(fx, d);
            String what = "text create";
            if (d.chance(0.75)) {
                JsonFuzz fuzz = new JsonFuzz(d);
                try {
                    json = fuzz.mutate(
                            new com.fasterxml.jackson.databind.ObjectMapper().readTree(json), d.between(1, 3), 0.3);
                } catch (java.io.IOException e) {
                    throw new IllegalStateException(e);
                }
                kind.append('+').append(fuzz.applied());
                what = "text fuzzed create";
            }
            boolean text = d.chance(0.85);
            if (!text) {
                what = what.replace("text", "binary");
            }
            WsExpect expect = json.length > MAX_FRAME
                    ? TOO_BIG
                    : !text ? ONE_REPLY_OR_1003 : !isUtf8(json) ? NOT_UTF8 : ONE_REPLY;
            steps.add(new WsStep(
                    frame(true, text ? TEXT : BINARY, json),
                    what + " (" + json.length + " B): " + Text.excerpt(json, 160),
                    expect,
                    json));
            if (expect != ONE_REPLY) {
                break; // the server closes here (or may)
            }
        }
        return new FuzzCase.Socket(id, kind.toString(), steps);
    }

    private static FuzzCase.Socket ping(CaseId id, Dice d) {
        byte[] payload = d.bytes(d.pick(0, 1, 125));
        return socket(
                id,
                "ws.ping",
                new WsStep(frame(true, PING, payload), "ping " + payload.length + " B", new WsExpect.Pong(payload)));
    }

    private static FuzzCase.Socket violation(CaseId id, Fixtures fx, Dice d) {
        byte[] json = create(fx, d);
        int v = d.below(9);
        byte[] bytes =
                switch (v) {
                    case 0 -> WsFrames.frame(true, d.between(1, 7), TEXT, json, true, -1, 0x01020304);
                    case 1 -> WsFrames.frame(true, 0, d.pick(3, 4, 5, 6, 7, 0xB, 0xC, 0xF), json, true, -1, 0x01020304);
                    case 2 -> WsFrames.frame(true, 0, TEXT, json, false, -1, 0);
                    case 3 -> frame(true, PING, new byte[d.pick(126, 1_000)]);
                    case 4 -> frame(false, PING, new byte[3]);
                    case 5 -> frame(true, CONTINUATION, json);
                    case 6 -> WsFrames.concat(frame(false, TEXT, new byte[] {'{'}), frame(true, TEXT, json));
                    case 7 -> frame(true, CLOSE, new byte[] {3});
                    default ->
                        WsFrames.concat(frame(false, TEXT, new byte[] {'{'}), frame(false, BINARY, new byte[] {'}'}));
                };
        String[] what = {
            "reserved bits",
            "reserved opcode",
            "unmasked frame",
            "control frame > 125 B",
            "fragmented ping",
            "continuation without a start",
            "new text frame inside a fragmented message",
            "close frame with a 1-byte payload",
            "binary frame inside a fragmented text message"
        };
        return socket(id, "ws.violation." + v, new WsStep(bytes, what[v], PROTOCOL_ERROR));
    }

    private static FuzzCase.Socket closes(CaseId id, Dice d) {
        int code = d.pick(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, 1000, 1001, 3000, 4999);
        boolean valid = code == 1000 || code == 1001 || code == 3000 || code == 4999;
        byte[] reason = d.chance(0.3) ? d.pick(Nasty.BAD_UTF8) : FuzzCase.utf8(d.pick("", "bye", "x".repeat(123)));
        boolean reasonOk = isUtf8(reason);
        WsExpect expect = !valid && reasonOk
                ? PROTOCOL_ERROR
                : reasonOk
                        ? new WsExpect.Close(List.of(), false)
                        // Both wrong: either violation may be the one named (1002 or 1007).
                        : new WsExpect.Close(List.of(1002, 1007), true);
        return socket(
                id,
                "ws.close " + (valid ? "valid" : "bad") + " code" + (reasonOk ? "" : " bad reason"),
                new WsStep(
                        frame(true, CLOSE, WsFrames.closePayload(code, reason)),
                        "close " + code + " reason " + Text.excerpt(reason, 40),
                        expect));
    }

    private static FuzzCase.Socket utf8(CaseId id, Fixtures fx, Dice d) {
        byte[] json = create(fx, d);
        byte[] bad = Nasty.spliceBadUtf8(d, json);
        if (isUtf8(bad)) { // an overlong or surrogate form some decoders accept: use a plain invalid byte
            bad = WsFrames.concat(json, new byte[] {(byte) 0xff});
        }
        if (d.chance(0.5)) {
            return socket(
                    id,
                    "ws.utf8.single",
                    new WsStep(frame(true, TEXT, bad), "text with invalid UTF-8: " + Text.excerpt(bad, 120), NOT_UTF8));
        }
        // a valid character split across two fragments is fine; an invalid sequence is not
        byte[] euro = FuzzCase.utf8(
                "{\"type\":\"response.create\",\"model\":\"tiny\",\"input\":\"\u20ac\",\"max_output_tokens\":2}");
        int split = new String(euro, StandardCharsets.ISO_8859_1).indexOf('\u00e2') + 1; // inside the euro sign
        if (d.chance(0.5)) {
            return socket(
                    id,
                    "ws.utf8.split-valid",
                    new WsStep(
                            WsFrames.concat(
                                    frame(false, TEXT, java.util.Arrays.copyOfRange(euro, 0, split)),
                                    frame(true, CONTINUATION, java.util.Arrays.copyOfRange(euro, split, euro.length))),
                            "a euro sign split across two fragments",
                            ONE_REPLY));
        }
        return socket(
                id,
                "ws.utf8.fragmented",
                new WsStep(
                        WsFrames.concat(
                                frame(false, TEXT, java.util.Arrays.copyOfRange(bad, 0, bad.length / 2)),
                                frame(
                                        true,
                                        CONTINUATION,
                                        java.util.Arrays.copyOfRange(bad, bad.length / 2, bad.length))),
                        "invalid UTF-8 in a fragmented text message",
                        NOT_UTF8));
    }

    private static FuzzCase.Socket sizes(CaseId id, Fixtures fx, Dice d) {
        int size = d.pick(MAX_FRAME, MAX_FRAME + 1, 100_000, 1_000_000);
        byte[] json = padded(fx, d, size);
        WsExpect expect = size > MAX_FRAME ? TOO_BIG : ONE_REPLY;
        return socket(
                id,
                "ws.size " + (size > MAX_FRAME ? "over" : "at") + " frame limit",
                new WsStep(frame(true, TEXT, json), "one text frame of " + size + " B", expect));
    }

    private static FuzzCase.Socket fragmented(CaseId id, Fixtures fx, Dice d) {
        int total = d.pick(100_000, MAX_MESSAGE, MAX_MESSAGE + 1, 300_000);
        byte[] json = padded(fx, d, total);
        int pieces = (total + 59_999) / 60_000;
        boolean ping = d.chance(0.3);
        List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < pieces; i++) {
            int from = i * json.length / pieces;
            int to = (i + 1) * json.length / pieces;
            frames.add(
                    frame(i == pieces - 1, i == 0 ? TEXT : CONTINUATION, java.util.Arrays.copyOfRange(json, from, to)));
            if (ping && i == 0) {
                frames.add(frame(true, PING, FuzzCase.utf8("mid")));
            }
        }
        WsExpect expect = total > MAX_MESSAGE ? TOO_BIG : ONE_REPLY;
        return socket(
                id,
                "ws.fragmented " + (total > MAX_MESSAGE ? "over" : "within") + " message limit"
                        + (ping ? " with a ping" : ""),
                new WsStep(
                        WsFrames.concat(frames.toArray(byte[][]::new)),
                        total + " B in " + pieces + " fragments" + (ping ? ", a ping after the first" : ""),
                        expect));
    }

    /** A valid create frame padded with an ignored field to exactly {@code size} bytes. */
    private static byte[] padded(Fixtures fx, Dice d, int size) {
        String json = new String(create(fx, d), StandardCharsets.UTF_8);
        String head = json.substring(0, json.length() - 1) + ",\"pad\":\"";
        int pad = Math.max(0, size - FuzzCase.utf8(head).length - 2);
        return FuzzCase.utf8(head + "x".repeat(pad) + "\"}");
    }

    static boolean isUtf8(byte[] bytes) {
        try {
            StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
