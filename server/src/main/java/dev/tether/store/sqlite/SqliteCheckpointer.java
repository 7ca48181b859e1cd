package dev.tether.store.sqlite;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Copies committed WAL frames into the database file on its own thread and connection, so the
 * writer's commits only ever pay for the WAL fsync. SQLite's automatic checkpoint would run
 * inside a commit and add the database file's (much slower, growing-file) fsync to that
 * commit's latency. PASSIVE checkpoints never block the writer or readers; once a checkpoint
 * has caught up, SQLite rewinds the WAL and later commits overwrite it in place.
 *
 * <p>Thread-safe: a single daemon thread owns the connection; {@link #close()} stops it.
 */
final class SqliteCheckpointer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SqliteCheckpointer.class.getName());
    private static final long INTERVAL_MILLIS = 1000;

    private final Connection connection;
    private final Thread thread;
    private volatile boolean running = true;

    SqliteCheckpointer(Path file) throws SQLException {
        this.connection = DriverManager.getConnection("jdbc:sqlite:" + file);
        this.thread = Thread.ofPlatform().daemon().name("tether-checkpoint").start(this::run);
    }

    private void run() {
        while (running) {
            try {
                Thread.sleep(INTERVAL_MILLIS);
                try (Statement st = connection.createStatement()) {
                    st.execute("PRAGMA wal_checkpoint(PASSIVE)");
                }
            } catch (InterruptedException e) {
                return;
            } catch (SQLException e) {
                // A full or read-only disk: the writer reports it; checkpoints resume when it recovers.
                LOG.log(System.Logger.Level.DEBUG, "checkpoint failed: " + e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(5000);
            connection.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SQLException e) {
            LOG.log(System.Logger.Level.WARNING, "closing the checkpoint connection: " + e.getMessage());
        }
    }
}
