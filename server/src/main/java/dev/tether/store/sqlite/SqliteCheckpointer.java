package dev.tether.store.sqlite;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Copies committed WAL frames into the database file on its own thread and connection, so the
 * writer's commits only ever pay for the WAL fsync. SQLite's automatic checkpoint would run
 * inside a commit and add the database file's (much slower, growing-file) fsync to that
 * commit's latency. PASSIVE checkpoints never block the writer or readers.
 *
 * <p>SQLite rewinds the WAL only when a write transaction starts after a checkpoint has copied
 * every frame; under continuous writes a concurrent checkpoint never quite catches up, and the
 * WAL would grow without bound. So once the WAL is past {@link #REWIND_FRAMES}, this asks the
 * writer ({@code rewind}) to run one PASSIVE checkpoint itself between two transactions: by
 * then nearly every frame is already copied, so it is short, and the next commit rewinds.
 *
 * <p>Thread-safe: a single daemon thread owns the connection; {@link #close()} stops it.
 */
final class SqliteCheckpointer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SqliteCheckpointer.class.getName());
    private static final long INTERVAL_MILLIS = 100;
    /** About 32 MiB of WAL with 4 KiB pages. */
    private static final int REWIND_FRAMES = 8192;

    private final Connection connection;
    private final Runnable rewind;
    private final Thread thread;
    private volatile boolean running = true;

    SqliteCheckpointer(Path file, Runnable rewind) throws SQLException {
        this.connection = DriverManager.getConnection("jdbc:sqlite:" + file);
        this.rewind = rewind;
        this.thread = Thread.ofPlatform().daemon().name("tether-checkpoint").start(this::run);
    }

    private void run() {
        while (running) {
            try {
                Thread.sleep(INTERVAL_MILLIS);
                try (Statement st = connection.createStatement();
                        ResultSet rs = st.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
                    if (rs.next() && rs.getInt(2) > REWIND_FRAMES) {
                        rewind.run();
                    }
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
