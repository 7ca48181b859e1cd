package dev.tether.store.log;

import dev.tether.store.StoreException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;

/**
 * The exclusive lock a store holds on its log directory while it writes there. Two writers on one
 * log would each append where they think the log ends, over the other's batches, and each one's
 * recovery would cut the other's unflushed tail. The lock is the kernel's, on the file {@link
 * #NAME} ({@link FileChannel#tryLock}), so a killed process leaves none behind.
 *
 * <p>Within this JVM the directories already locked are also kept in a set, checked first: the
 * kernel's locks belong to the process, and closing any descriptor of the file (a second store
 * finding it locked) would release the first store's lock.
 *
 * <p>Thread-safety: the set is guarded by its own monitor; an instance is owned by its store.
 */
final class DirectoryLock implements AutoCloseable {
    /** Not a segment's or an index file's name, so recovery never reads it. */
    static final String NAME = ".lock";

    private static final Set<Path> HELD = new HashSet<>();

    private final Path dir;
    private final FileChannel channel;

    private DirectoryLock(Path dir, FileChannel channel) {
        this.dir = dir;
        this.channel = channel;
    }

    /** Locks {@code dir} for writing, or says who holds it. */
    static DirectoryLock take(Path dir) throws IOException, StoreException {
        Path key = dir.toRealPath();
        synchronized (HELD) {
            if (!HELD.add(key)) {
                throw inUse(dir, "a store in this process");
            }
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(dir.resolve(NAME), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                throw inUse(dir, "another process");
            }
            return new DirectoryLock(key, channel);
        } catch (IOException | StoreException | RuntimeException e) {
            if (channel != null) {
                channel.close();
            }
            synchronized (HELD) {
                HELD.remove(key);
            }
            throw e;
        }
    }

    private static StoreException inUse(Path dir, String holder) {
        return new StoreException(
                dir + " is in use by " + holder + " (another Tether server on the same --data-dir?): two"
                        + " writers would write over each other's log; stop the other one first",
                null,
                false);
    }

    /** Releases the lock (closing the file releases it). */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // the lock goes with the descriptor either way
        }
        synchronized (HELD) {
            HELD.remove(dir);
        }
    }
}
