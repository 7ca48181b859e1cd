package dev.tether.store.sqlite;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.StoreContents;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * The embedded store: one SQLite database in WAL mode. Commits run with {@code
 * synchronous=NORMAL} (written to the WAL, not yet flushed); {@link #sync} fdatasyncs the WAL
 * file, which makes every transaction written before it durable. SQLite's WAL checksums make
 * recovery stop at the last complete transaction, so an unflushed tail is lost whole, never
 * torn. The engine's single writer calls {@link #commit} with a whole batch of appends: one
 * transaction and one fsync for all of them (group commit); {@link SqliteWriter} makes a failed
 * commit leave nothing behind, and tells a commit that failed from one that only reported an
 * error. Readers use their own connections and never block the writer (WAL).
 *
 * <p>Thread-safety: {@link #commit} and {@link #load} must be called from one thread at a time
 * (the engine's writer); {@link #read} is safe from any thread.
 */
public final class SqliteStreamStore implements StreamStore {
    private static final System.Logger LOG = System.getLogger(SqliteStreamStore.class.getName());
    private static final int READERS = 4;
    static final int PAGE_SIZE = 4096;

    private final Path file;
    private final SqliteWriter writer;
    /** Started with the first writable connection. */
    private SqliteCheckpointer checkpointer;
    /** Set by the checkpointer when the WAL should be rewound; see {@link SqliteCheckpointer}. */
    private volatile boolean rewindWanted;
    /** The WAL file, opened on the first sync. */
    private java.nio.channels.FileChannel wal;

    private volatile SqliteReaders readers;
    /** The readers were opened read-only ({@code immutable}) because the disk was: replace them once writable. */
    private boolean immutableReaders;

    private SqliteStreamStore(Path file, Long maxBytes) {
        this.file = file;
        this.writer = new SqliteWriter(file, maxBytes, this::committedBatch);
    }

    /**
     * Opens (creating if needed) {@code tether.db} in {@code dataDir}.
     *
     * @param maxBytes an optional cap on the database size; writes beyond it fail as "full"
     */
    public static SqliteStreamStore open(Path dataDir, Long maxBytes) throws StoreException {
        Path file = dataDir.resolve("tether.db");
        SqliteStreamStore store = new SqliteStreamStore(file, maxBytes);
        try {
            Files.createDirectories(dataDir);
            store.openWriter();
            store.readers = SqliteReaders.open(file, false, READERS);
            return store;
        } catch (SQLException | java.io.IOException e) {
            store.close();
            boolean unavailable = !(e instanceof SQLException sql) || SqliteSchema.isUnavailable(sql);
            if (unavailable && Files.isRegularFile(file)) {
                // A read-only disk is a state, not a reason to refuse reads: serve what is there and
                // retry opening for writes on every commit until the disk is writable again.
                LOG.log(
                        System.Logger.Level.WARNING,
                        "cannot write " + file + " (" + e.getMessage()
                                + "); serving reads only until it becomes writable");
                return openReadOnly(file, maxBytes);
            }
            throw new StoreException("cannot open SQLite store in " + dataDir + ": " + e.getMessage(), e, true);
        }
    }

    private static SqliteStreamStore openReadOnly(Path file, Long maxBytes) throws StoreException {
        SqliteStreamStore store = new SqliteStreamStore(file, maxBytes);
        try {
            store.readers = SqliteReaders.open(file, true, READERS);
            store.immutableReaders = true;
            return store;
        } catch (SQLException e) {
            store.close();
            throw new StoreException(
                    "cannot open SQLite store " + file + " even read-only: " + e.getMessage(), e, true);
        }
    }

    private void openWriter() throws SQLException {
        writer.open();
        if (checkpointer == null) {
            checkpointer = new SqliteCheckpointer(file, () -> rewindWanted = true);
        }
    }

    /** Before each commit: reopens the writer after an error, or for the first time on a disk that was read-only. */
    private void ensureWritable() throws StoreException {
        if (writer.isOpen()) {
            return;
        }
        try {
            openWriter();
            if (immutableReaders) {
                SqliteReaders old = readers;
                readers = SqliteReaders.open(file, false, READERS);
                immutableReaders = false;
                old.close();
                LOG.log(System.Logger.Level.INFO, file + " is writable again");
            }
        } catch (SQLException e) {
            throw new StoreException("the store cannot be opened for writing (" + e.getMessage() + ")", e, true);
        }
    }

    static Connection connect(Path file, boolean immutable) throws SQLException {
        Properties props = new Properties();
        if (immutable) {
            return DriverManager.getConnection("jdbc:sqlite:file:" + file + "?immutable=1", props);
        }
        props.setProperty("busy_timeout", "10000");
        props.setProperty("page_size", Integer.toString(PAGE_SIZE));
        return DriverManager.getConnection("jdbc:sqlite:" + file, props);
    }

    @Override
    public StoreContents load() throws StoreException {
        if (!writer.isOpen()) {
            return withReader("load", SqliteSchema::loadAll);
        }
        try {
            return writer.load();
        } catch (SQLException e) {
            throw failure("load", e);
        }
    }

    @Override
    public CommitResult commit(Commit commit) throws StoreException {
        ensureWritable();
        CommitResult result;
        try {
            result = writer.commit(commit);
        } catch (SQLException e) {
            throw failure("commit", e);
        }
        if (rewindWanted) {
            rewindWanted = false;
            writer.checkpointBetweenTransactions();
        }
        return result;
    }

    /** What another connection sees as the last committed batch: whether a failed commit landed. */
    private long committedBatch() throws StoreException {
        return withReader("read back the last batch", SqliteSchema::committedBatch);
    }

    @Override
    public void sync() throws StoreException {
        try {
            if (wal == null) {
                Path walFile = Path.of(file + "-wal");
                if (!Files.exists(walFile)) {
                    return; // nothing was ever written through the WAL
                }
                wal = java.nio.channels.FileChannel.open(walFile, java.nio.file.StandardOpenOption.WRITE);
            }
            wal.force(false);
        } catch (java.io.IOException e) {
            throw new StoreException("flushing the WAL failed: " + withoutPath(e), e, true);
        }
    }

    /** File-system exceptions carry the path in their message; health reports must not. */
    private static String withoutPath(java.io.IOException e) {
        if (e instanceof java.nio.file.FileSystemException f) {
            return f.getReason() != null ? f.getReason() : "the WAL file cannot be accessed";
        }
        return e.getMessage();
    }

    @Override
    public List<StoredMessage> read(long streamId, long from, long to, int maxBytes) throws StoreException {
        return withReader("read", c -> {
            try (PreparedStatement ps = c.prepareStatement(SqliteSchema.READ_SQL)) {
                ps.setLong(1, streamId);
                ps.setLong(2, from);
                ps.setLong(3, to);
                List<StoredMessage> out = new ArrayList<>();
                long bytes = 0;
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next() && bytes < maxBytes) {
                        StoredMessage m = new StoredMessage(rs.getLong(1), rs.getBytes(2));
                        if (m.end() > from) {
                            out.add(m);
                            bytes += m.length();
                        }
                    }
                }
                return out; // readers run in auto-commit: each query is its own WAL snapshot
            }
        });
    }

    /** Work that reads through a pooled connection. */
    private interface ReadWork<T> {
        T apply(Connection c) throws SQLException;
    }

    private <T> T withReader(String op, ReadWork<T> work) throws StoreException {
        try {
            while (true) {
                SqliteReaders pool = readers;
                Connection c = pool.borrow();
                if (c == null) {
                    continue; // the pool was replaced (the store became writable): use the new one
                }
                try {
                    return work.apply(c);
                } finally {
                    pool.giveBack(c);
                }
            }
        } catch (SQLException e) {
            throw failure(op, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while waiting for a read connection", e, true);
        }
    }

    private static StoreException failure(String op, SQLException e) {
        return new StoreException("SQLite " + op + " failed: " + e.getMessage(), e, SqliteSchema.isUnavailable(e));
    }

    @Override
    public String kind() {
        return "sqlite";
    }

    /**
     * The database file's size: what {@code --max-store-size} caps (its page count), as far as the
     * checkpointer has moved the WAL's pages into it.
     */
    @Override
    public long diskBytes() {
        try {
            return Files.size(file);
        } catch (java.io.IOException e) {
            return 0; // not there (yet): nothing held
        }
    }

    @Override
    public String describe() {
        return "sqlite:" + file;
    }

    @Override
    public void close() {
        if (wal != null) {
            try {
                wal.close();
            } catch (java.io.IOException e) {
                LOG.log(System.Logger.Level.WARNING, "closing the WAL channel: " + e.getMessage());
            }
        }
        if (checkpointer != null) {
            checkpointer.close();
        }
        writer.close();
        if (readers != null) {
            readers.close();
        }
    }
}
