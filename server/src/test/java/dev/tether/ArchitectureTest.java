package dev.tether;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The folder tree is the architecture (STYLE.md): the domain core knows no framework, and
 * only the CLI prints. A source scan, like Kafka's import-control.
 */
class ArchitectureTest {
    private static final Path MAIN = Path.of("src/main/java/dev/tether");

    private static List<Path> sources() throws IOException {
        assertTrue(Files.isDirectory(MAIN), "run from the server module: " + MAIN.toAbsolutePath());
        try (Stream<Path> files = Files.walk(MAIN)) {
            return files.filter(p -> p.toString().endsWith(".java")).toList();
        }
    }

    private static List<String> offenders(String needle, String... allowedPackages) throws IOException {
        return sources().stream()
                .filter(p -> {
                    String rel = MAIN.relativize(p).toString().replace('\\', '/');
                    for (String allowed : allowedPackages) {
                        if (rel.startsWith(allowed + "/")) {
                            return false;
                        }
                    }
                    return true;
                })
                .filter(p -> {
                    try {
                        return Files.readString(p).contains(needle);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                })
                .map(Path::toString)
                .toList();
    }

    @Test
    void onlyTheHttpPackageImportsVertx() throws IOException {
        assertTrue(sources().size() > 20, "the scan sees the sources");
        assertEquals(
                List.of(),
                offenders("import io.vertx", "http"),
                "Vert.x belongs to the http package; the core (stream, store, config) stays framework-free");
        assertEquals(List.of(), offenders("import io.netty", "http"), "so does Netty, under it");
        assertEquals(
                List.of(),
                offenders("io.micrometer", "metrics"),
                "metrics are recorded through dev.tether.metrics.Metrics, one place");
    }

    @Test
    void onlyTheCliPrintsToTheConsole() throws IOException {
        assertEquals(List.of(), offenders("System.out", "cli"), "main code logs through System.Logger");
        assertEquals(List.of(), offenders("System.err", "cli"), "main code logs through System.Logger");
        assertEquals(List.of(), offenders("printStackTrace", "cli"), "failures are logged, not printed");
    }

    @Test
    void theStreamEngineDoesNotDependOnAConcreteStore() throws IOException {
        List<String> offenders = sources().stream()
                .filter(p -> MAIN.relativize(p).toString().startsWith("stream"))
                .filter(p -> {
                    try {
                        String text = Files.readString(p);
                        return text.contains("store.sqlite") || text.contains("store.memory");
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                })
                .map(Path::toString)
                .toList();
        assertEquals(List.of(), offenders, "the engine sees only the StreamStore SPI, so Redis can slot in");
    }
}
