package dev.tether.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * One sealed segment's index file, {@code <base>.idx}: every message the segment holds, in log
 * order (Kafka keeps an index beside each segment the same way). It is written as the segment
 * fills and finished when the segment is sealed, so a checkpoint carries only the metadata and
 * recovery rebuilds each stream's {@link StreamIndex} from these files, not from a copy of every
 * index rewritten at each checkpoint (which grew with the data kept and stalled the writer).
 *
 * <p>It is a cache of what the segment says: never fsynced, never needed. A missing, unfinished or
 * damaged file (its CRC) is skipped and the segment scanned instead, and a write that fails
 * (a full disk) gives the file up without failing the commit.
 *
 * <pre>(streamId:i64 position:i64 location:i64 length:i32)* magic:i32 base:i64 count:i32 crc32c:i32</pre>
 *
 * <p>Thread-safety: a {@link Writer} belongs to the log's writer thread.
 */
final class SegmentIndex {
    static final int ENTRY = 28;
    private static final int TRAILER = 20;
    private static final int MAGIC = 0x544c4931; // "TLI1"

    private SegmentIndex() {}

    /** Receives the messages of an index file or a scanned segment, in log order. */
    interface Entries {
        void entry(long streamId, long position, long location, int length);
    }

    static Path file(Path dir, long base) {
        return dir.resolve(String.format("%020d.idx", base));
    }

    private static Path unfinished(Path dir, long base) {
        return dir.resolve(String.format("%020d.idx.tmp", base));
    }

    /** Whether {@code name} is an index file, finished or not (for clean-up at open). */
    static boolean isIndexFile(String name) {
        return name.matches("[0-9]{20}\\.idx(\\.tmp)?");
    }

    /**
     * Feeds the entries of {@code <base>.idx} to {@code into}, all or nothing.
     *
     * @return null when they were read, or why the file cannot be used (missing, unfinished, damaged)
     */
    static String read(Path dir, long base, Entries into) throws IOException {
        byte[] all;
        try {
            all = Files.readAllBytes(file(dir, base));
        } catch (NoSuchFileException e) {
            return "no index file";
        }
        if (all.length < TRAILER) {
            return "its index file is unfinished";
        }
        ByteBuffer b = ByteBuffer.wrap(all);
        int trailer = all.length - TRAILER;
        CRC32C crc = new CRC32C();
        crc.update(all, 0, all.length - 4);
        if (b.getInt(trailer) != MAGIC
                || b.getLong(trailer + 4) != base
                || (long) b.getInt(trailer + 12) * ENTRY != trailer
                || b.getInt(trailer + 16) != (int) crc.getValue()) {
            return "its index file is unfinished or damaged";
        }
        for (int at = 0; at < trailer; at += ENTRY) {
            into.entry(b.getLong(at), b.getLong(at + 8), b.getLong(at + 16), b.getInt(at + 24));
        }
        return null;
    }

    /** Writes the index file of the segment being filled. */
    static final class Writer {
        private static final System.Logger LOG = System.getLogger(SegmentIndex.class.getName());
        private final Path dir;
        private final long base;
        private final ByteBuffer buffer = ByteBuffer.allocate(ENTRY * 2048);
        private final CRC32C crc = new CRC32C();
        private FileChannel channel;
        private int count;
        /** The file is finished under its name (else, with no channel, there is no file). */
        private boolean finished;

        private Writer(Path dir, long base, FileChannel channel) {
            this.dir = dir;
            this.base = base;
            this.channel = channel;
        }

        /** A writer that writes nothing: for a segment whose index file is already there. */
        static final Writer NONE = new Writer(null, -1, null);

        /** A writer for the segment at {@code base}; one that writes nothing if the file cannot be made. */
        static Writer open(Path dir, long base) {
            try {
                return new Writer(
                        dir,
                        base,
                        FileChannel.open(
                                unfinished(dir, base),
                                StandardOpenOption.CREATE,
                                StandardOpenOption.TRUNCATE_EXISTING,
                                StandardOpenOption.WRITE));
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "no index file for the segment at " + base + ": " + e);
                return new Writer(dir, base, null);
            }
        }

        void add(long streamId, long position, long location, int length) {
            if (channel == null) {
                return;
            }
            if (buffer.remaining() < ENTRY) {
                flush();
                if (channel == null) {
                    return;
                }
            }
            buffer.putLong(streamId).putLong(position).putLong(location).putInt(length);
            count++;
        }

        private void flush() {
            buffer.flip();
            crc.update(buffer.array(), 0, buffer.limit());
            try {
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            } catch (IOException e) {
                giveUp(e);
            }
            buffer.clear();
        }

        /** The segment is sealed: the file is finished and takes its name (not synced: see the class). */
        void finish() {
            if (channel == null) {
                return;
            }
            flush();
            if (channel == null) {
                return;
            }
            buffer.putInt(MAGIC).putLong(base).putInt(count);
            buffer.flip();
            crc.update(buffer.array(), 0, buffer.limit());
            buffer.limit(buffer.limit() + 4);
            buffer.putInt(TRAILER - 4, (int) crc.getValue());
            try {
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.close();
                Files.move(
                        unfinished(dir, base),
                        file(dir, base),
                        StandardCopyOption.ATOMIC_MOVE,
                        StandardCopyOption.REPLACE_EXISTING);
                channel = null;
                finished = true;
            } catch (IOException e) {
                giveUp(e);
            }
        }

        /** The bytes its file takes (what {@code --max-store-size} counts): 0 when there is none. */
        long bytes() {
            if (channel == null && !finished) { // never made, or given up
                return 0;
            }
            return (long) count * ENTRY + (finished ? TRAILER : 0);
        }

        /** Closes and deletes the unfinished file (the log is closing, or the index file is not wanted). */
        void abandon() {
            giveUp(null);
        }

        private void giveUp(IOException why) {
            if (channel == null) {
                return; // never made, or already finished or given up
            }
            if (why != null) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "giving up the index file of the segment at " + base + " (recovery will scan the segment"
                                + " instead): " + why);
            }
            try {
                channel.close();
                Files.deleteIfExists(unfinished(dir, base));
            } catch (IOException e) {
                // it is only a cache: an unfinished file left behind is deleted at the next open
            }
            channel = null;
        }
    }
}
