package dev.tether.inference.embedded.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.inference.embedded.gguf.DemoModel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rename recipe that makes a replaced file survive a power cut. A power cut cannot be
 * simulated in a test, so a recording {@link DurableFile.Sync} checks the order instead: the
 * data is flushed while still under the temporary name, the rename follows, and the directory
 * is flushed after it.
 */
class DurableFileTest {
    @TempDir
    Path dir;

    /** Records every sync with what the target held at that moment. */
    static final class Recorder implements DurableFile.Sync {
        final List<String> events = new ArrayList<>();
        private final Path target;

        Recorder(Path target) {
            this.target = target;
        }

        @Override
        public void file(Path file, FileChannel channel) throws IOException {
            events.add("file " + (file.equals(target) ? "target" : "temporary") + " " + channel.size()
                    + " bytes, target " + state());
            channel.force(true);
        }

        @Override
        public void directory(Path d) throws IOException {
            events.add("directory " + (d.equals(target.getParent()) ? "of target" : d) + ", target " + state());
        }

        private String state() throws IOException {
            return Files.exists(target) ? Files.size(target) + " bytes" : "absent";
        }
    }

    @Test
    void theDataIsFlushedBeforeTheRenameAndTheDirectoryAfterIt() throws Exception {
        Path target = dir.resolve("model.gguf");
        Files.writeString(target, "old");
        Recorder sync = new Recorder(target);
        long size = new DurableFile(sync).replace(target, ch -> ch.write(ByteBuffer.wrap(bytes("new content"))));

        assertEquals(11, size);
        assertEquals("new content", Files.readString(target));
        assertEquals(
                List.of(
                        "file temporary 11 bytes, target 3 bytes", // flushed before the old file is replaced
                        "directory of target, target 11 bytes"), // the rename is flushed after it happened
                sync.events);
        assertEquals(List.of(target), files(), "no temporary file is left behind");
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws Exception {
        Path target = dir.resolve("state.kv");
        Files.writeString(target, "old");
        Recorder sync = new Recorder(target);
        assertThrows(IOException.class, () -> new DurableFile(sync).replace(target, ch -> {
            ch.write(ByteBuffer.wrap(bytes("half")));
            throw new IOException("disk full");
        }));
        assertEquals("old", Files.readString(target));
        assertEquals(List.of(target), files());
        assertEquals(List.of(), sync.events, "nothing was renamed, so nothing was synced");
    }

    @Test
    void theDemoModelIsWrittenThroughTheRecipe() throws Exception {
        Path model = dir.resolve("models/demo.gguf");
        Recorder sync = new Recorder(model);
        long size = DemoModel.generate(model, DemoModel.Size.TINY, 1, new DurableFile(sync));

        assertEquals(size, Files.size(model));
        assertEquals(
                List.of(
                        "file temporary " + size + " bytes, target absent",
                        "directory of target, target " + size + " bytes"),
                sync.events);
    }

    @Test
    void temporaryFilesAreRecognisable() throws Exception {
        Path target = dir.resolve("x.kv");
        List<Path> seen = new ArrayList<>();
        new DurableFile(new Recorder(target)).replace(target, ch -> seen.addAll(files()));
        assertEquals(1, seen.size());
        assertTrue(DurableFile.isTemporary(seen.getFirst()), seen.getFirst().toString());
        assertTrue(!DurableFile.isTemporary(target));
    }

    private List<Path> files() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).toList();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
