package dev.tether.inference.embedded.disk;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * Replaces a file so that after a crash or a power cut its name holds either the previous
 * content or the complete new content, never a prefix or a zero-length file. The recipe is the
 * one databases use: write a temporary file in the same directory, fsync it, rename it over the
 * target, fsync the directory. Without the first fsync, ext4 and XFS may make the rename durable
 * before the data, which leaves an empty file under the final name; without the second, the
 * rename itself may be lost.
 *
 * <p>Every file the server writes by rename goes through this class (the demo model, KV spill
 * files, the extracted native library). Thread-safe: it holds no state besides its
 * {@link Sync}; concurrent replacements of one target are not coordinated (the last rename
 * wins).
 */
public final class DurableFile {
    /** Makes data durable: the real fsync in production; tests record the calls and their order. */
    public interface Sync {
        /** Flushes the written content of {@code file} (open as {@code channel}) to the device. */
        void file(Path file, FileChannel channel) throws IOException;

        /** Flushes the directory entries of {@code dir} (a rename in it) to the device. */
        void directory(Path dir) throws IOException;
    }

    /** Writes a file's content; the channel is positioned at 0 of an empty file. */
    @FunctionalInterface
    public interface Content {
        void writeTo(FileChannel channel) throws IOException;
    }

    /** Suffix of temporary files: a crash can leave them behind; they are never read. */
    public static final String TEMPORARY_SUFFIX = ".tmp";

    /** The real thing: fsync on the file, then on its directory. */
    public static final DurableFile FSYNC = new DurableFile(new Fsync());

    private final Sync sync;

    public DurableFile(Sync sync) {
        this.sync = sync;
    }

    /**
     * Writes {@code content} to a temporary file next to {@code target}, makes it durable and
     * renames it over {@code target}. On failure {@code target} is unchanged and the temporary
     * file is removed. Returns the size of the new file.
     */
    public long replace(Path target, Content content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + "-", TEMPORARY_SUFFIX);
        try {
            long size;
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                content.writeTo(ch);
                sync.file(tmp, ch);
                size = ch.size();
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            sync.directory(dir);
            return size;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Whether {@code file} is a temporary file of this class (left over by a crash). */
    public static boolean isTemporary(Path file) {
        String name = file.getFileName().toString();
        return name.startsWith(".") && name.endsWith(TEMPORARY_SUFFIX);
    }

    private static final class Fsync implements Sync {
        /** Windows cannot open a directory as a file; NTFS journals the rename itself. */
        private static final boolean DIRECTORIES =
                !System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");

        @Override
        public void file(Path file, FileChannel channel) throws IOException {
            channel.force(true);
        }

        @Override
        public void directory(Path dir) throws IOException {
            if (!DIRECTORIES) return;
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            }
        }
    }
}
