package dev.tether.store.log;

import dev.tether.store.StoreException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashSet;
import java.util.Set;

/**
 * The exclusive lock a store holds on its log directory while it writes there. Two writers on one
 * log would each append where they think the log ends, over the other's batches, and each one's
 * recovery would cut the other's unflushed tail. The lock is the kernel's, on the file {@link
 * #NAME} ({@link FileChannel#tryLock}), so a killed process leaves none behind. On a file system
 * without locks (some network mounts) the store runs unlocked, with a warning.
 *
 * <p>Within this JVM the lock files already held are also kept in a set, by the file's identity
 * (device and inode, whatever path leads there), and checked before the file is opened: the
 * kernel's locks belong to the process, and closing any descriptor of the file (a second store
 * finding it locked) would release the first store's lock.
 *
 * <p>Thread-safety: the set is guarded by its own monitor; an instance is owned by its store.
 */
final class DirectoryLock implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(DirectoryLock.class.getName());
    /** Not a segment's or an index file's name, so recovery never reads it. */
    static final String NAME = ".lock";

    private static final Set<Object> HELD = new HashSet<>();

    private final Object key;
    /** Null when the file system has no locks. */
    private final FileChannel channel;

    private boolean released;

    private DirectoryLock(Object key, FileChannel channel) {
        this.key = key;
        this.channel = channel;
    }

    /** Locks {@code dir} for writing, or says who holds it. */
    static DirectoryLock take(Path dir) throws IOException, StoreException {
        Path file = dir.resolve(NAME);
        try {
            Files.createFile(file); // a new file: no lock can be held on it yet
        } catch (FileAlreadyExistsException e) {
            // as usual: made by an earlier start
        }
        Object identity = Files.readAttributes(file, BasicFileAttributes.class).fileKey(); // no descriptor
        Object key = identity != null ? identity : file.toRealPath();
        synchronized (HELD) {
            if (!HELD.add(key)) {
                throw inUse(dir, "a store in this process");
            }
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) { // cannot happen with the set; refused all the same
                throw inUse(dir, "a store in this process");
            } catch (IOException e) { // no locks here (ENOLCK): run unlocked rather than not at all
                LOG.log(
                        System.Logger.Level.WARNING,
                        "cannot lock " + file + " (" + e.getMessage() + "): make sure no other server uses " + dir);
                channel.close();
                return new DirectoryLock(key, null);
            }
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

    /** Releases the lock (closing the file releases it); again, nothing. */
    @Override
    public synchronized void close() {
        if (released) {
            return;
        }
        released = true;
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException e) {
            // the lock goes with the descriptor either way
        } finally {
            synchronized (HELD) {
                HELD.remove(key);
            }
        }
    }
}
