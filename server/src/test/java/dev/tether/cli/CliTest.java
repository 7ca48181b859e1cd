package dev.tether.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.config.ServerConfig;
import dev.tether.inference.embedded.llama.LlamaModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tether serve} options: defaults, parsing, and a clear message with exit code 2 for bad input. */
class CliTest {
    @Test
    void defaultsAreLoopbackPort4437AndDataUnderTheWorkingDirectory() {
        ServerConfig c = Cli.parseServe(new String[] {"serve"});
        assertEquals("127.0.0.1", c.host());
        assertEquals(4437, c.port());
        assertEquals(Path.of("data"), c.dataDir());
        assertEquals(Duration.ofSeconds(30), c.longPollTimeout());
        assertTrue(c.logPreallocate());
        assertFalse(Cli.parseServe(new String[] {"serve", "--log-preallocate", "off"})
                .logPreallocate());
        assertEquals(0, c.jitNice(), "the JIT keeps the server's priority unless asked");
        assertEquals(
                19, Cli.parseServe(new String[] {"serve", "--jit-nice", "19"}).jitNice());
        assertEquals(100, c.jitSliceMicros(), "the JIT asks for the kernel's shortest slice");
        assertEquals(
                0, Cli.parseServe(new String[] {"serve", "--jit-slice-us", "0"}).jitSliceMicros());
    }

    @Test
    void optionsAreParsedWithHumanUnits() {
        ServerConfig c = Cli.parseServe(new String[] {
            "serve",
            "--port",
            "0",
            "--data-dir",
            "/tmp/x",
            "--long-poll-timeout",
            "500ms",
            "--sse-keep-alive",
            "2s",
            "--max-body",
            "512KiB",
            "--store",
            "memory",
            "--retain-bytes",
            "1MiB",
            "--recent-window",
            "64KiB",
            "--web-root",
            "web/app/dist"
        });
        assertEquals(0, c.port());
        assertEquals(Path.of("/tmp/x"), c.dataDir());
        assertEquals(Duration.ofMillis(500), c.longPollTimeout());
        assertEquals(Duration.ofSeconds(2), c.sseKeepAlive());
        assertEquals(
                Duration.ofMillis(700),
                Cli.parseServe(new String[] {"serve", "--long-poll-timeout", "700ms"})
                        .sseKeepAlive(),
                "the SSE keep-alive follows the long-poll timeout unless set");
        assertEquals(
                Duration.ofSeconds(30),
                Cli.parseServe(new String[] {"serve", "--long-poll-timeout", "2m"})
                        .sseKeepAlive(),
                "a long-poll timeout beyond an SSE connection's 60 s lifetime is not the keep-alive's default");
        assertEquals(512 * 1024, c.maxBodyBytes());
        assertEquals(ServerConfig.StoreKind.MEMORY, c.store());
        assertEquals(1024 * 1024, c.retainBytes());
        assertEquals(64 * 1024, c.recentWindowBytes());
        assertEquals(Path.of("web/app/dist"), c.webRoot());
        assertNull(Cli.parseServe(new String[] {"serve"}).webRoot(), "no web app unless asked for");
        assertNull(
                Cli.parseServe(new String[] {"serve"}).recentWindowBytes(),
                "the engine's default window unless asked for");
    }

    @Test
    void badOptionsExitWith2AndSayWhatIsWrong() {
        assertRejected("needs a whole number", "serve", "--port", "http");
        assertRejected("between 0 and 65535", "serve", "--port", "70000");
        assertRejected("not a duration", "serve", "--long-poll-timeout", "soon");
        assertRejected("must be positive", "serve", "--long-poll-timeout", "0s");
        assertRejected("the SSE keep-alive interval must be positive", "serve", "--sse-keep-alive", "0s");
        assertRejected(
                "--sse-keep-alive must be shorter than an SSE connection's lifetime (60s), which ends it first; got 60000ms",
                "serve",
                "--sse-keep-alive",
                "60s");
        assertRejected("log, sqlite, memory or redis", "serve", "--store", "cassandra");
        assertRejected("--log-preallocate must be on or off", "serve", "--log-preallocate", "yes");
        assertRejected(
                "--recent-window must be between 0 and 16MiB, got 33554432 bytes", "serve", "--recent-window", "32MiB");
        assertRejected("--store redis needs --redis", "serve", "--store", "redis");
        assertRejected("only for --store redis", "serve", "--redis", "redis://127.0.0.1:6379");
        assertRejected("--redis must be a URL", "serve", "--store", "redis", "--redis", "127.0.0.1:6379");
        assertRejected("--node-id is only for --store redis", "serve", "--node-id", "n1");
        assertRejected(
                "--node-id must be 1 to 64 letters",
                "serve",
                "--store",
                "redis",
                "--redis",
                "redis://127.0.0.1:6379",
                "--node-id",
                "a b");
        assertRejected("--jit-nice must be between 0 and 19, got 20", "serve", "--jit-nice", "20");
        assertRejected("--jit-nice must be between 0 and 19, got -1", "serve", "--jit-nice", "-1");
        assertRejected(
                "--jit-slice-us must be 0 (the kernel's default) or between 100 and 100000, got 99",
                "serve",
                "--jit-slice-us",
                "99");
        assertRejected("between 100 and 100000, got 100001", "serve", "--jit-slice-us", "100001");
        assertRejected("unknown option", "serve", "--colour", "blue");
        assertRejected("needs a value", "serve", "--port");
        assertRejected("unknown command", "start");
        assertRejected("not both", "serve", "--model", "m.gguf", "--upstream", "http://127.0.0.1:1/v1");
        assertRejected("tiny, small or 134m", "model", "generate", "--out", "x.gguf", "--size", "huge");
        assertRejected("--out FILE is required", "model", "generate");
        assertRejected("only subcommand", "model", "download");
    }

    @Test
    void aNonLoopbackHostNeedsAuthOrAnExplicitInsecureFlag(@TempDir Path dir) throws Exception {
        assertRejected("--auth-config", "serve", "--host", "0.0.0.0");
        assertRejected("--auth-config", "serve", "--host", "192.168.1.10", "--port", "0");
        assertTrue(Cli.parseServe(new String[] {"serve", "--host", "0.0.0.0", "--insecure-no-auth"})
                .insecureNoAuth());
        Path auth = Files.writeString(
                dir.resolve("auth.json"),
                "{\"keys\":[{\"name\":\"b\",\"secret\":\"0123456789abcdef\",\"capabilities\":{\"*\":[\"*\"]}}]}");
        ServerConfig c = Cli.parseServe(new String[] {"serve", "--host", "0.0.0.0", "--auth-config", auth.toString()});
        assertEquals(auth, c.authConfig());
        assertTrue(Cli.authLine(Cli.parseServe(new String[] {"serve"})).startsWith("Auth: OFF"));
        assertTrue(Cli.authLine(c).startsWith("Auth: on"));
        assertRejected("scheme://host", "serve", "--cors-origin", "app.example/path");
        assertRejected("text or json", "serve", "--log-format", "xml");
    }

    @Test
    void aBadAuthConfigStopsTheStartSayingWhy(@TempDir Path dir) throws Exception {
        Path auth = Files.writeString(dir.resolve("auth.json"), "{\"keys\":[{\"name\":\"b\",\"secret\":\"short\"}]}");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new Cli(System.out, new PrintStream(err, true, StandardCharsets.UTF_8)).run(new String[] {
            "serve", "--port", "0", "--data-dir", dir.resolve("data").toString(), "--auth-config", auth.toString()
        });
        assertEquals(1, code);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("auth config"), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void modelGenerateWritesALoadableModel(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("m.gguf");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = new Cli(new PrintStream(out, true, StandardCharsets.UTF_8), System.err)
                .run(new String[] {"model", "generate", "--out", file.toString(), "--size", "tiny"});
        assertEquals(0, code);
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("random"), out.toString(StandardCharsets.UTF_8));
        try (LlamaModel model = LlamaModel.load(file)) {
            assertEquals(512, model.vocabSize());
        }
    }

    @Test
    void serveWithABadModelFileExitsWith1AndSaysWhy(@TempDir Path dir) throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.gguf"), "not a model");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new Cli(System.out, new PrintStream(err, true, StandardCharsets.UTF_8))
                .run(new String[] {"serve", "--port", "0", "--data-dir", dir.toString(), "--model", bad.toString()});
        assertEquals(1, code);
        assertTrue(
                err.toString(StandardCharsets.UTF_8).contains("not a GGUF model"),
                err.toString(StandardCharsets.UTF_8));
    }

    private static void assertRejected(String hint, String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new Cli(
                        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                        new PrintStream(err, true, StandardCharsets.UTF_8),
                        accepted -> -1) // accepted input would start a server: fail here instead
                .run(args);
        String message = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, "bad input exits with 2: " + String.join(" ", args));
        assertTrue(
                message.contains(hint),
                "the message for '" + String.join(" ", args) + "' mentions '" + hint + "': " + message);
    }

    @Test
    void theAotTrainingRunDrivesAServerWithoutASingleFailedRequest() {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int code = new Cli(new java.io.PrintStream(out), new java.io.PrintStream(err))
                .run(new String[] {"aot-train", "--seconds", "1"});
        assertEquals(0, code, err.toString());
        var done = java.util.regex.Pattern.compile(
                        "tether aot-train: done \\((\\d+) requests, (\\d+) of them Responses turns\\)")
                .matcher(out.toString());
        assertTrue(done.find(), out.toString());
        assertTrue(Long.parseLong(done.group(1)) >= 50, out.toString());
        // stateless, chained and WebSocket conversations of two turns each, every one completed
        assertTrue(Long.parseLong(done.group(2)) >= 6, out.toString());
    }
}
