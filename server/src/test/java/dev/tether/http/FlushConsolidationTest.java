package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A burst of WebSocket messages written in one event-loop task reaches the socket as one flush
 * (one system call), not one per message, on a connection readied by {@link Pipelines#upgraded}.
 * A counter at the head of the pipeline sees every flush that would reach the socket.
 */
class FlushConsolidationTest {
    private static final int MESSAGES = 50;

    private Vertx vertx;
    private HttpServer server;
    private WebSocketClient client;

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
        client = vertx.createWebSocketClient();
    }

    @AfterEach
    void stop() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    /** Runs a server whose sockets are readied or not, and returns the flushes its burst took. */
    private int flushesForOneBurst(boolean readied) throws Exception {
        AtomicInteger flushes = new AtomicInteger();
        server = vertx.createHttpServer()
                .requestHandler(req -> req.toWebSocket().onSuccess(ws -> {
                    if (readied) {
                        Pipelines.upgraded(req.connection());
                    }
                    Channel channel = ((io.vertx.core.net.impl.ConnectionBase) req.connection()).channel();
                    channel.pipeline().addFirst("flush-counter", new ChannelDuplexHandler() {
                        @Override
                        public void flush(ChannelHandlerContext ctx) {
                            flushes.incrementAndGet();
                            ctx.flush();
                        }
                    });
                    // From a task of its own, not inside the read of "go": Vert.x already holds
                    // back the flushes of writes made while it reads.
                    io.vertx.core.Context context = Vertx.currentContext();
                    ws.textMessageHandler(text -> context.runOnContext(v -> burst(ws)));
                }))
                .listen(0, "127.0.0.1")
                .toCompletionStage()
                .toCompletableFuture()
                .get(10, TimeUnit.SECONDS);
        List<String> got = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> all = new CompletableFuture<>();
        WebSocket ws = client.connect(server.actualPort(), "127.0.0.1", "/")
                .toCompletionStage()
                .toCompletableFuture()
                .get(10, TimeUnit.SECONDS);
        ws.textMessageHandler(t -> {
            got.add(t);
            if (got.size() == MESSAGES) {
                all.complete(null);
            }
        });
        ws.writeTextMessage("go");
        all.get(10, TimeUnit.SECONDS);
        for (int i = 0; i < MESSAGES; i++) {
            assertEquals("event " + i, got.get(i), "in order, each its own message");
        }
        int seen = flushes.get();
        ws.close();
        server.close();
        return seen;
    }

    /** Fifty messages from one task, as {@link FrameBatcher} hands a batch of events to the loop. */
    private static void burst(ServerWebSocket ws) {
        for (int i = 0; i < MESSAGES; i++) {
            ws.writeTextMessage("event " + i);
        }
    }

    @Test
    void aBurstFromOneTaskLeavesInOneFlush() throws Exception {
        int plain = flushesForOneBurst(false);
        int readied = flushesForOneBurst(true);
        assertTrue(plain >= MESSAGES, "Vert.x alone flushes each message: " + plain);
        assertEquals(1, readied, "one flush for the whole burst");
    }
}
