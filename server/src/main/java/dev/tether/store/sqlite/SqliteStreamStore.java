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
 * The embedded store: one SQLite database in WAL mode with {@code synchronous=FULL}, so a
 * commit returns only after the WAL is fsynced. The engine's single writer calls
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
    private final Connection writer;
    private final SqliteWriteStatements statements;
    private final BlockingQueue<Connection> readers = new ArrayBlockingQueue<>(READERS);

    private SqliteStreamStore(Path file, Connection writer) throws SQLException {
        this.file = file;
        this.writer = writer;
        this.statements = new SqliteWriteStatements(writer);
    }

    /**
     * Opens (creating if needed) {@code tether.db} in {@code dataDir}.
     *
     * @param maxBytes an optional cap on the database size; writes beyond it fail as "full"
     */
    public static SqliteStreamStore open(Path dataDir, Long maxBytes) throws StoreException {
        try {
            Files.createDirectories(dataDir);
            Path file = dataDir.resolve("tether.db");
            Connection writer = connect(file);
            try (Statement st = writer.createStatement()) {
                st.execute("PRAGMA journal_mode=WAL");
                st.execute("PRAGMA synchronous=FULL");
                if (maxBytes != null) {
                    st.execute("PRAGMA max_page_count=" + Math.max(16, maxBytes / PAGE_SIZE));
                }
                SqliteSchema.create(st);
            }
            writer.setAutoCommit(false);
            SqliteStreamStore store = new SqliteStreamStore(file, writer);
            for (int i = 0; i < READERS; i++) {
                Connection reader = connect(file);
                try (Statement st = reader.createStatement()) {
                    st.execute("PRAGMA query_only=1");
                }
                store.readers.add(reader);
            }
            return store;
        } catch (SQLException | java.io.IOException e) {
            throw new StoreException("cannot open SQLite store in " + dataDir + ": " + e.getMessage(), e, true);
        }
    }

    private static Connection connect(Path file) throws SQLException {
        Properties props = new Properties();
        props.setProperty("busy_timeout", "10000");
        props.setProperty("page_size", Integer.toString(PAGE_SIZE));
        return DriverManager.getConnection("jdbc:sqlite:" + file, props);
    }

    @Override
    public StoreContents load() throws StoreException {
        try {
            List<StreamRecord> streams = new ArrayList<>();
            List<ProducerRecord> producers = new ArrayList<>();
            long maxId = 0;
            try (Statement st = writer.createStatement();
                 ResultSet rs = st.executeQuery("SELECT " + SqliteSchema.STREAM_COLUMNS + " FROM streams")) {
                while (rs.next()) {
                    StreamRecord r = SqliteSchema.readStream(rs);
                    streams.add(r);
                    maxId = Math.max(maxId, r.id());
                }
            }
            try (Statement st = writer.createStatement();
                 ResultSet rs = st.executeQuery("SELECT stream_id, producer_id, epoch, seq FROM producers")) {
                while (rs.next()) {
                    producers.add(new ProducerRecord(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(4)));
                }
            }
            try (Statement st = writer.createStatement();
                 ResultSet rs = st.executeQuery("SELECT value FROM meta WHERE key='max_stream_id'")) {
                if (rs.next()) {
                    maxId = Math.max(maxId, rs.getLong(1));
                }
            }
            writer.commit();
            return new StoreContents(streams, producers, maxId);
        } catch (SQLException e) {
            throw failure("load", e);
        }
    }

    @Override
    public void commit(List<Mutation> batch) throws StoreException {
        try {
            for (Mutation m : batch) {
                statements.apply(m);
            }
            statements.flush();
            writer.commit();
        } catch (SQLException e) {
            rollbackQuietly();
            throw failure("commit", e);
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
            readers.add(c);
        }
    }

    private Connection borrow() throws StoreException {
        try {
            return readers.take();
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
        try {
            writer.close();
            for (Connection c : readers) {
                c.close();
            }
        } catch (SQLException e) {
            LOG.log(System.Logger.Level.WARNING, "closing SQLite store: " + e.getMessage());
        }
    }
}
