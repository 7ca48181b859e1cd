package dev.tether.store.sqlite;

import dev.tether.store.Mutation;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreContents;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * The embedded store: one SQLite database in WAL mode. Commits run with {@code
 * synchronous=NORMAL} (written to the WAL, not yet flushed); {@link #sync} fdatasyncs the WAL
 * file, which makes every transaction written before it durable. SQLite's WAL checksums make
 * recovery stop at the last complete transaction, so an unflushed tail is lost whole, never torn. The engine's single writer calls
 * {@link #commit} with a whole batch of appends: one transaction and one fsync for all of them
 * (group commit). Readers use their own connections and never block the writer (WAL).
 *
 * <p>Thread-safety: {@link #commit} and {@link #load} must be called from one thread at a time
 * (the engine's writer); {@link #read} is safe from any thread.
 */
public final class SqliteStreamStore implements StreamStore {
    private static final System.Logger LOG = System.getLogger(SqliteStreamStore.class.getName());
    private static final int READERS = 4;
    private static final int PAGE_SIZE = 4096;

    private final Path file;
    private final Long maxBytes;
    /** Null while the store is read-only (the data directory could not be written at startup). */
    private Connection writer;

    private SqliteWriteStatements statements;
    private SqliteCheckpointer checkpointer;
    /** Set by the checkpointer when the WAL should be rewound; see {@link SqliteCheckpointer}. */
    private volatile boolean rewindWanted;
    /** The WAL file, opened by the syncing thread on its first sync. */
    private java.nio.channels.FileChannel wal;

    private volatile BlockingQueue<Connection> readers = new ArrayBlockingQueue<>(READERS);

    private SqliteStreamStore(Path file, Long maxBytes) {
        this.file = file;
        this.maxBytes = maxBytes;
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
            store.readers = openReaders(file, false);
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
            store.readers = openReaders(file, true);
            return store;
        } catch (SQLException e) {
            store.close();
            throw new StoreException(
                    "cannot open SQLite store " + file + " even read-only: " + e.getMessage(), e, true);
        }
    }

    private void openWriter() throws SQLException {
        Connection c = connect(file, false);
        try (Statement st = c.createStatement()) {
            st.execute("PRAGMA journal_mode=WAL");
            st.execute("PRAGMA synchronous=NORMAL"); // the engine calls sync() before acknowledging
            st.execute("PRAGMA wal_autocheckpoint=0"); // see SqliteCheckpointer
            st.execute("PRAGMA journal_size_limit=" + (64 << 20)); // a burst does not leave a huge WAL behind
            if (maxBytes != null) {
                st.execute("PRAGMA max_page_count=" + Math.max(16, maxBytes / PAGE_SIZE));
            }
            SqliteSchema.create(st);
            c.setAutoCommit(false);
            statements = new SqliteWriteStatements(c);
            writer = c;
            checkpointer = new SqliteCheckpointer(file, () -> rewindWanted = true);
        } catch (SQLException e) {
            c.close();
            throw e;
        }
    }

    /**
     * @param immutable open a database on a read-only disk: SQLite then needs no -shm/-wal files
     */
    private static BlockingQueue<Connection> openReaders(Path file, boolean immutable) throws SQLException {
        BlockingQueue<Connection> pool = new ArrayBlockingQueue<>(READERS);
        for (int i = 0; i < READERS; i++) {
            Connection reader = connect(file, immutable);
            try (Statement st = reader.createStatement()) {
                st.execute("PRAGMA query_only=1");
            }
            pool.add(reader);
        }
        return pool;
    }

    /** While read-only, each commit first tries to become writable again. */
    private void ensureWritable() throws StoreException {
        if (writer != null) {
            return;
        }
        try {
            openWriter();
            BlockingQueue<Connection> old = readers;
            readers = openReaders(file, false);
            closeAll(old);
            LOG.log(System.Logger.Level.INFO, file + " is writable again");
        } catch (SQLException e) {
            throw new StoreException("the store is read-only (" + e.getMessage() + ")", e, true);
        }
    }

    private static Connection connect(Path file, boolean immutable) throws SQLException {
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
        if (writer == null) {
            Connection c = borrow();
            try {
                return load(c);
            } catch (SQLException e) {
                throw failure("load", e);
            } finally {
                giveBack(c);
            }
        }
        try {
            StoreContents contents = load(writer);
            writer.commit();
            return contents;
        } catch (SQLException e) {
            throw failure("load", e);
        }
    }

    private static StoreContents load(Connection c) throws SQLException {
        List<StreamRecord> streams = new ArrayList<>();
        List<ProducerRecord> producers = new ArrayList<>();
        long maxId = 0;
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT " + SqliteSchema.STREAM_COLUMNS + " FROM streams")) {
            while (rs.next()) {
                StreamRecord r = SqliteSchema.readStream(rs);
                streams.add(r);
                maxId = Math.max(maxId, r.id());
            }
        }
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT stream_id, producer_id, epoch, seq FROM producers")) {
            while (rs.next()) {
                producers.add(new ProducerRecord(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(4)));
            }
        }
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT value FROM meta WHERE key='max_stream_id'")) {
            if (rs.next()) {
                maxId = Math.max(maxId, rs.getLong(1));
            }
        }
        return new StoreContents(streams, producers, maxId);
    }

    @Override
    public void commit(List<Mutation> batch) throws StoreException {
        ensureWritable();
        try {
            for (Mutation m : batch) {
                statements.apply(m);
            }
            statements.flush();
            writer.commit();
            statements.committed();
            if (rewindWanted) {
                rewindWanted = false;
                checkpointBetweenTransactions();
            }
        } catch (SQLException e) {
            rollbackQuietly();
            throw failure("commit", e);
        }
    }

    /** A PASSIVE checkpoint on the writer's connection, so the next transaction rewinds the WAL. */
    private void checkpointBetweenTransactions() throws SQLException {
        writer.setAutoCommit(true);
        try (Statement st = writer.createStatement()) {
            st.execute("PRAGMA wal_checkpoint(PASSIVE)");
        } finally {
            writer.setAutoCommit(false);
        }
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
            throw new StoreException("flushing the WAL failed: " + e.getMessage(), e, true);
        }
    }

    private void rollbackQuietly() {
        try {
            statements.clearBatches();
            writer.rollback();
        } catch (SQLException e) {
            LOG.log(System.Logger.Level.WARNING, "rollback failed: " + e.getMessage());
        }
    }

    @Override
    public List<StoredMessage> read(long streamId, long from, long to, int maxBytes) throws StoreException {
        Connection c = borrow();
        try (PreparedStatement ps = c.prepareStatement(SqliteSchema.READ_SQL)) {
            ps.setLong(1, streamId);
            ps.setLong(2, from);
            ps.setLong(3, to);
            List<StoredMessage> out = new ArrayList<>();
            long bytes = 0;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next() && bytes < maxBytes) {
                    StoredMessage m = new StoredMessage(rs.getLong(1), rs.getBytes(2));
                    if (m.end() <= from) {
                        continue;
                    }
                    out.add(m);
                    bytes += m.data().length;
                }
            }
            return out; // readers run in auto-commit: each query is its own WAL snapshot
        } catch (SQLException e) {
            throw failure("read", e);
        } finally {
            giveBack(c);
        }
    }

    /** Returns a reader to the current pool; one from a replaced pool is closed instead. */
    private void giveBack(Connection c) {
        if (!readers.offer(c)) {
            closeQuietly(c);
        }
    }

    private static void closeAll(BlockingQueue<Connection> pool) {
        Connection c;
        while ((c = pool.poll()) != null) {
            closeQuietly(c);
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            LOG.log(System.Logger.Level.WARNING, "closing a SQLite connection: " + e.getMessage());
        }
    }

    private Connection borrow() throws StoreException {
        try {
            while (true) { // the pool may be replaced when a read-only store becomes writable
                Connection c = readers.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS);
                if (c != null) {
                    return c;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while waiting for a read connection", e, true);
        }
    }

    private static StoreException failure(String op, SQLException e) {
        return new StoreException("SQLite " + op + " failed: " + e.getMessage(), e, SqliteSchema.isUnavailable(e));
    }

    @Override
    public boolean durable() {
        return true;
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
        if (writer != null) {
            closeQuietly(writer);
        }
        closeAll(readers);
    }
}
