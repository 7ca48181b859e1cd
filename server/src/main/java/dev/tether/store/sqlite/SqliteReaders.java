package dev.tether.store.sqlite;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A fixed pool of read-only connections. In WAL mode each query sees a consistent snapshot and
 * never blocks the writer. A pool is replaced (and closed) when a read-only store becomes
 * writable; connections borrowed from a closed pool are closed when given back.
 *
 * <p>Thread-safe.
 */
final class SqliteReaders implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SqliteReaders.class.getName());

    private final BlockingQueue<Connection> pool;
    private volatile boolean closed;

    private SqliteReaders(BlockingQueue<Connection> pool) {
        this.pool = pool;
    }

    /**
     * @param immutable open a database on a read-only disk: SQLite then needs no -shm/-wal files
     */
    static SqliteReaders open(Path file, boolean immutable, int count) throws SQLException {
        BlockingQueue<Connection> pool = new ArrayBlockingQueue<>(count);
        try {
            for (int i = 0; i < count; i++) {
                Connection reader = SqliteStreamStore.connect(file, immutable);
                pool.add(reader);
                try (Statement st = reader.createStatement()) {
                    st.execute("PRAGMA query_only=1");
                }
            }
        } catch (SQLException e) {
            closeAll(pool);
            throw e;
        }
        return new SqliteReaders(pool);
    }

    /** A connection, waiting for one to be free; null once this pool has been closed. */
    Connection borrow() throws InterruptedException {
        while (!closed) {
            Connection c = pool.poll(100, TimeUnit.MILLISECONDS);
            if (c != null) {
                return c;
            }
        }
        return null;
    }

    void giveBack(Connection c) {
        if (closed || !pool.offer(c)) {
            closeQuietly(c);
        }
    }

    @Override
    public void close() {
        closed = true;
        closeAll(pool);
    }

    private static void closeAll(BlockingQueue<Connection> pool) {
        Connection c;
        while ((c = pool.poll()) != null) {
            closeQuietly(c);
        }
    }

    static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            LOG.log(System.Logger.Level.WARNING, "closing a SQLite connection: " + e.getMessage());
        }
    }
}
