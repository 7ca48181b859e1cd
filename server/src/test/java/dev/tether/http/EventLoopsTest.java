package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tether.testing.ServerProcess;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transport under the event loops: native epoll by default on Linux x86-64 (the machines
 * Tether ships for, whose native library is a dependency), JDK NIO when asked, a clear refusal
 * for a value that names neither, and the start-up line saying which.
 */
class EventLoopsTest {
    @TempDir
    Path dir;

    private static void assumeLinuxX64() {
        assumeTrue(System.getProperty("os.name").startsWith("Linux"), "epoll is Linux's");
        assumeTrue(System.getProperty("os.arch").equals("amd64"), "the native library on the class path is x86-64's");
    }

    @Test
    @Timeout(60)
    void nativeEpollIsTheDefault() throws Exception {
        assumeLinuxX64();
        for (String value : new String[] {null, "native", " EPOLL "}) {
            Vertx vertx = EventLoops.create(1, new VertxOptions(), value);
            try {
                assertTrue(
                        vertx.isNativeTransportEnabled(),
                        "value " + value + ": " + vertx.unavailableNativeTransportCause());
                assertEquals("epoll", EventLoops.describe(vertx));
            } finally {
                vertx.close().await(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    @Timeout(60)
    void nioWhenAskedFor() throws Exception {
        Vertx vertx = EventLoops.create(1, new VertxOptions(), "nio");
        try {
            assertFalse(vertx.isNativeTransportEnabled());
            assertEquals("nio", EventLoops.describe(vertx));
        } finally {
            vertx.close().await(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aValueThatNamesNoTransportIsRefused() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> EventLoops.create(1, new VertxOptions(), "kqueue"));
        assertTrue(e.getMessage().contains("-Dtether.transport=kqueue"), e.getMessage());
        assertTrue(e.getMessage().contains("use native (the default; also epoll) or nio"), e.getMessage());
    }

    /**
     * Where the native library cannot load (here: Netty told not to), the server's loops run on NIO,
     * the start-up line says so, and the server says why once.
     */
    @Test
    @Timeout(120)
    void withoutTheNativeLibraryTheServerRunsOnNioAndSaysWhyOnce() throws Exception {
        try (ServerProcess server = ServerProcess.start(
                dir.resolve("fallback"),
                List.of("-Dio.netty.transport.noNative=true"),
                "--upstream",
                "http://127.0.0.1:9/v1")) {
            String out = server.output();
            assertTrue(out.contains("; network: nio)"), out);
            int warnings = out.split("the native network transport could not load, using JDK NIO", -1).length - 1;
            assertEquals(1, warnings, out);
        }
    }

    /** A bad value stops the start with its message, before the store or the demo model is made. */
    @Test
    @Timeout(120)
    void aServerWithABadValueDoesNotStart() throws Exception {
        Path data = dir.resolve("bad");
        IllegalStateException e = assertThrows(
                IllegalStateException.class, () -> ServerProcess.start(data, List.of("-Dtether.transport=kqueue"))
                        .close());
        assertTrue(e.getMessage().contains("-Dtether.transport=kqueue is not a network transport"), e.getMessage());
        assertFalse(java.nio.file.Files.exists(data.resolve("log")), "the store was opened");
        assertFalse(java.nio.file.Files.exists(data.resolve("models")), "the demo model was made");
    }

    /** The server's start-up line names its transport, and the property reaches a real server. */
    @Test
    @Timeout(120)
    void theStartUpLineNamesTheTransport() throws Exception {
        assumeLinuxX64();
        try (ServerProcess server = ServerProcess.start(dir.resolve("a"))) {
            assertTrue(server.output().contains("; network: epoll)"), server.output());
        }
        try (ServerProcess server = ServerProcess.start(dir.resolve("b"), List.of("-Dtether.transport=nio"))) {
            assertTrue(server.output().contains("; network: nio)"), server.output());
        }
    }
}
