package dev.tether.store.sqlite;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.Mutation;
import dev.tether.store.Precondition;
import dev.tether.store.StoreContents;
import dev.tether.store.StoreException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The store's one write connection. Each batch is one transaction that also records its number
 * ({@code meta.batch}), so when SQLite reports an error anywhere in a commit the writer can ask
 * the database whether the transaction landed instead of guessing: a write is never reported
 * failed when it was stored, nor stored when reported failed.
 *
 * <p>After any error the connection is closed and a fresh one opened for the next batch. SQLite
 * rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR); sqlite-jdbc's
 * {@code rollback()} then fails before it issues its next {@code BEGIN}, and the connection
 * silently runs every later statement in its own autocommit transaction, half-applying batches
 * the engine reports as failed (finding 11 of the outside probe). A new connection carries no
 * such state.
 *
 * <p>Not thread-safe: confined to the engine's writer thread (and startup).
 */
final class SqliteWriter implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SqliteWriter.class.getName());

    /** Reads the number of the last committed batch through another connection. */
    @FunctionalInterface
    interface BatchProbe {
        long committedBatch() throws StoreException;
    }

    private final Path file;
    private final Long maxBytes;
    private final BatchProbe probe;
    /** Null until opened, and again after an error until the next batch reopens it. */
    private Connection connection;

    private SqliteWriteStatements statements;
    /** The number of the last batch known to be committed. */
    private long batch;

    SqliteWriter(Path file, Long maxBytes, BatchProbe probe) {
        this.file = file;
        this.maxBytes = maxBytes;
        this.probe = probe;
    }

    boolean isOpen() {
        return connection != null;
    }

    /** Opens the connection if it is not open; creates the schema on a new database. */
    void open() throws SQLException {
        if (connection != null) {
            return;
        }
        Connection c = SqliteStreamStore.connect(file, false);
        try (Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("PRAGMA journal_mode=WAL")) {
                // The durability argument (sync() before acknowledging, checkpoints) assumes WAL.
                String mode = rs.next() ? rs.getString(1) : "none";
                if (!"wal".equalsIgnoreCase(mode)) {
                    throw new SQLException("SQLite would not use write-ahead logging for " + file + " (journal mode "
                            + mode + "); the file system may not support shared memory");
                }
            }
            st.execute("PRAGMA synchronous=NORMAL"); // the engine calls sync() before acknowledging
            st.execute("PRAGMA wal_autocheckpoint=0"); // see SqliteCheckpointer
            st.execute("PRAGMA journal_size_limit=" + (64 << 20)); // a burst does not leave a huge WAL behind
            if (maxBytes != null) {
                st.execute("PRAGMA max_page_count=" + Math.max(16, maxBytes / SqliteStreamStore.PAGE_SIZE));
            }
            SqliteSchema.create(st);
            batch = SqliteSchema.committedBatch(c);
            c.setAutoCommit(false);
            statements = new SqliteWriteStatements(c);
            connection = c;
        } catch (SQLException e) {
            SqliteReaders.closeQuietly(c);
            throw e;
        }
    }

    /** Removes what an older version could leave behind after a full disk, then loads everything. */
    StoreContents load() throws SQLException {
        int repaired = SqliteSchema.dropRowsBeyondTail(connection);
        if (repaired > 0) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "removed " + repaired + " message rows beyond their stream's tail (left by an earlier failed"
                            + " commit); the affected streams take appends again");
        }
        SqliteSchema.markScopedOffsets(connection);
        StoreContents contents = SqliteSchema.loadAll(connection);
        connection.commit();
        return contents;
    }

    /**
     * Checks the preconditions and applies the batch in one transaction. Returns {@code Committed}
     * exactly when the transaction is committed, even if SQLite reported an error on the way, and
     * {@code Conflict} (nothing written) when a precondition fails.
     *
     * @throws SQLException the batch was not stored
     * @throws StoreException whether it was stored cannot be told ({@link StoreException#outcomeUnknown()})
     */
    CommitResult commit(Commit commit) throws SQLException, StoreException {
        open();
        if (!commit.expect().isEmpty()) {
            List<Precondition> failed;
            try {
                failed = SqlitePreconditions.failed(connection, commit.expect());
            } catch (SQLException e) {
                close(); // nothing was written: the next commit starts on a fresh connection
                throw e;
            }
            if (!failed.isEmpty()) {
                connection.rollback();
                return new CommitResult.Conflict(failed);
            }
        }
        long next = batch + 1;
        try {
            for (Mutation m : commit.apply()) {
                statements.apply(m);
            }
            statements.flush();
            statements.markBatch(next);
            connection.commit();
        } catch (SQLException e) {
            close();
            if (!landed(next, e)) {
                throw e;
            }
            LOG.log(
                    System.Logger.Level.WARNING,
                    "SQLite reported an error after batch " + next + " was committed; it stands: " + e.getMessage());
        }
        batch = next;
        if (statements != null) {
            statements.committed();
        }
        return CommitResult.COMMITTED;
    }

    private boolean landed(long expected, SQLException e) throws StoreException {
        long committed;
        try {
            committed = probe.committedBatch();
        } catch (StoreException probeFailure) {
            probeFailure.addSuppressed(e);
            throw StoreException.outcomeUnknown(
                    "a commit failed (" + e.getMessage() + ") and reading back whether it was stored failed too ("
                            + probeFailure.getMessage() + ")",
                    probeFailure);
        }
        return committed >= expected;
    }

    /** A PASSIVE checkpoint on this connection, so the next transaction rewinds the WAL. */
    void checkpointBetweenTransactions() {
        if (connection == null) {
            return;
        }
        try {
            connection.setAutoCommit(true);
            try (Statement st = connection.createStatement();
                    ResultSet rs = st.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
                rs.next();
            }
            connection.setAutoCommit(false);
        } catch (SQLException e) {
            // The batch before is committed either way; a fresh connection restores the transaction mode.
            LOG.log(System.Logger.Level.DEBUG, "checkpoint between transactions failed: " + e.getMessage());
            close();
        }
    }

    @Override
    public void close() {
        if (connection != null) {
            SqliteReaders.closeQuietly(connection);
            connection = null;
            statements = null;
        }
    }
}
