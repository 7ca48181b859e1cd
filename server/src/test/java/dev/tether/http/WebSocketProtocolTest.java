package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.RawWebSocket;
import dev.tether.testing.RawWebSocket.Outcome;
import dev.tether.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 19: every WebSocket protocol violation closes the connection with the code RFC 6455
 * names and a reason (it used to be 1000 "normal" with none, or silence), and a too-large message
 * is refused, never dropped.
 */
class WebSocketProtocolTest {
    private static final int MAX = 4096;

    @TempDir
    static Path dir;

    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir, c -> c.maxBodyBytes(MAX));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static Outcome send(int opcode, byte[] payload, boolean fin, int rsv) throws Exception {
        try (RawWebSocket ws = RawWebSocket.open(server.port(), "/v1/responses")) {
            assertTrue(ws.handshake().startsWith("HTTP/1.1 101"), ws.handshake());
            return ws.frame(opcode, payload, fin, rsv).readUntilClose(5000);
        }
    }

    private static void assertClosed(int code, String hint, Outcome o) {
        assertEquals(code, o.closeCode(), "close code (reason: " + o.closeReason() + ", frames: " + o.texts() + ")");
        assertTrue(o.closeReason().contains(hint), "the reason mentions '" + hint + "': " + o.closeReason());
    }

    @Test
    void reservedBitsUnknownOpcodesAndStrayContinuationsAre1002() throws Exception {
        byte[] json = "{\"type\":\"response.create\"}".getBytes(StandardCharsets.UTF_8);
        assertClosed(1002, "RSV", send(1, json, true, 4));
        assertClosed(1002, "opcode", send(3, json, true, 0));
        assertClosed(1002, "continuation", send(0, json, true, 0));
        assertClosed(1002, "125", send(9, new byte[200], true, 0));
    }

    @Test
    void closeFramesWithACodeNoPeerMaySendOrAReasonThatIsNotUtf8AreRefused() throws Exception {
        assertClosed(1002, "5000", send(8, new byte[] {0x13, (byte) 0x88}, true, 0)); // 5000
        assertClosed(1002, "65535", send(8, new byte[] {(byte) 0xff, (byte) 0xff}, true, 0));
        assertClosed(
                1007, "UTF-8", send(8, new byte[] {0x03, (byte) 0xe9, (byte) 0xf0, (byte) 0x9f, (byte) 0x98}, true, 0));
        Outcome normal = send(8, new byte[] {0x03, (byte) 0xe8, 'b', 'y', 'e'}, true, 0);
        assertEquals(1000, normal.closeCode(), "a valid close is echoed as usual");
    }

    @Test
    void aHandshakeWithoutConnectionUpgradeGetsAJson400() throws Exception {
        String answer = OriginPolicyTest.raw(
                server.port(),
                "GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        assertTrue(answer.startsWith("HTTP/1.1 400"), answer);
        assertTrue(answer.contains("application/json"), "a JSON body, not Vert.x's text: " + answer);
    }

    @Test
    void textThatIsNotUtf8Is1007() throws Exception {
        byte[] bad = {'{', '"', 't', '"', ':', '"', (byte) 0xff, (byte) 0xfe, '"', '}'};
        assertClosed(1007, "UTF-8", send(1, bad, true, 0));
        byte[] surrogate = {'"', (byte) 0xed, (byte) 0xa0, (byte) 0x80, '"'};
        assertClosed(1007, "UTF-8", send(1, surrogate, true, 0));
    }

    @Test
    void aMessageOverTheLimitIs1009WhetherInOneFrameOrFragmented() throws Exception {
        assertClosed(1009, String.valueOf(MAX), send(1, new byte[MAX + 1], true, 0));
        try (RawWebSocket ws = RawWebSocket.open(server.port(), "/v1/responses")) {
            ws.frame(1, new byte[3000], false, 0).frame(0, new byte[3000], true, 0);
            assertClosed(1009, String.valueOf(MAX), ws.readUntilClose(5000));
        }
    }

    @Test
    void aValidButUnknownMessageGetsAnErrorFrameAndTheConnectionStaysOpen() throws Exception {
        try (RawWebSocket ws = RawWebSocket.open(server.port(), "/v1/responses")) {
            ws.frame(1, "{\"type\":\"nope\"}".getBytes(StandardCharsets.UTF_8), false, 0)
                    .frame(0, new byte[] {' '}, true, 0);
            Outcome o = ws.readUntilClose(1500);
            assertEquals(-1, o.closeCode(), "not closed: " + o.closeReason());
            assertEquals(1, o.texts().size(), "a fragmented message is assembled and answered: " + o.texts());
            assertTrue(
                    o.texts().get(0).contains("unknown_event_type"), o.texts().get(0));
            assertFalse(ws.socket().isClosed());
        }
    }
}
