package dev.tether.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A tmpfs mounted for one test: a small disk to fill, or one to remount read-only and writable
 * again. Mounting needs root; where it fails the test is skipped. {@link #close} makes it
 * writable and unmounts it.
 */
public final class Tmpfs implements AutoCloseable {
    private final Path path;

    private Tmpfs(Path path) {
        this.path = path;
    }

    /** Mounts a tmpfs with {@code options} (such as {@code size=1m}) on {@code at}, which is created. */
    public static Tmpfs mount(Path at, String options) throws Exception {
        Files.createDirectories(at);
        boolean mounted;
        try {
            mounted = run("mount", "-t", "tmpfs", "-o", options, "tmpfs", at.toString()) == 0;
        } catch (IOException e) {
            mounted = false;
        }
        assumeTrue(mounted, "mounting a tmpfs needs root; this environment cannot, so the disk test is skipped");
        return new Tmpfs(at);
    }

    public Path path() {
        return path;
    }

    /** Remounts it read-only (it must have no file open for writing). */
    public void readOnly() throws Exception {
        assertEquals(0, run("mount", "-o", "remount,ro", path.toString()), "remount read-only");
    }

    public void writable() throws Exception {
        assertEquals(0, run("mount", "-o", "remount,rw", path.toString()), "remount writable");
    }

    /**
     * Unmounts it, lazily if it is still busy: a closed log's chunk file (unlinked, {@code
     * ChunkFile}) stays mapped until a garbage collection finds it unreachable, which a test's own
     * frame may put off. The lazy unmount detaches it at once and lets it go when the mapping does.
     */
    @Override
    public void close() throws IOException {
        run("mount", "-o", "remount,rw", path.toString());
        if (run("umount", path.toString()) != 0) {
            run("umount", "-l", path.toString());
        }
    }

    private static int run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getInputStream().transferTo(OutputStream.nullOutputStream());
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return -1;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + String.join(" ", command), e);
        }
        return p.exitValue();
    }
}
