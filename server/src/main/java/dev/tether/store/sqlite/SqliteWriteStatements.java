package dev.tether.store.sqlite;

import dev.tether.store.Mutation;
import dev.tether.store.Mutation.AppendMessages;
import dev.tether.store.Mutation.DropStream;
import dev.tether.store.Mutation.PutProducer;
import dev.tether.store.Mutation.PutStream;
import dev.tether.store.Mutation.TrimMessages;
import dev.tether.store.StoredMessage;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * The writer connection's prepared statements. Message inserts are JDBC-batched so a group
 * commit of many appends costs one round of statement executions.
 *
 * <p>Not thread-safe: confined to the store's writer thread.
 */
final class SqliteWriteStatements {
    private final PreparedStatement upsertStream;
    private final PreparedStatement insertMessage;
    private final PreparedStatement upsertProducer;
    private final PreparedStatement trimMessages;
    private final PreparedStatement dropMessages;
    private final PreparedStatement dropProducers;
    private final PreparedStatement dropStream;
    private final PreparedStatement bumpMaxId;
    private final PreparedStatement markBatch;
    private boolean pendingMessages;
    private boolean pendingStreams;
    private boolean pendingProducers;
    private long maxIdInBatch;
    private long persistedMaxId;

    SqliteWriteStatements(Connection c) throws SQLException {
        upsertStream = c.prepareStatement(SqliteSchema.UPSERT_STREAM);
        insertMessage = c.prepareStatement("INSERT INTO messages (stream_id, pos, data) VALUES (?,?,?)");
        upsertProducer = c.prepareStatement(
                "INSERT OR REPLACE INTO producers (stream_id, producer_id, epoch, seq) VALUES (?,?,?,?)");
        trimMessages = c.prepareStatement("DELETE FROM messages WHERE stream_id = ? AND pos < ?");
        dropMessages = c.prepareStatement("DELETE FROM messages WHERE stream_id = ?");
        dropProducers = c.prepareStatement("DELETE FROM producers WHERE stream_id = ?");
        dropStream = c.prepareStatement("DELETE FROM streams WHERE id = ?");
        bumpMaxId = c.prepareStatement("INSERT INTO meta (key, value) VALUES ('max_stream_id', ?) "
                + "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)");
        markBatch = c.prepareStatement("INSERT INTO meta (key, value) VALUES ('batch', ?) "
                + "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    }

    /** Records the transaction's number in the transaction itself; see {@link SqliteWriter}. */
    void markBatch(long batch) throws SQLException {
        markBatch.setLong(1, batch);
        markBatch.executeUpdate();
    }

    void apply(Mutation m) throws SQLException {
        switch (m) {
            case PutStream p -> {
                SqliteSchema.bindStream(upsertStream, p.record());
                upsertStream.addBatch();
                pendingStreams = true;
                maxIdInBatch = Math.max(maxIdInBatch, p.record().id());
            }
            case AppendMessages a -> {
                for (StoredMessage msg : a.messages()) {
                    insertMessage.setLong(1, a.streamId());
                    insertMessage.setLong(2, msg.position());
                    insertMessage.setBytes(3, msg.data());
                    insertMessage.addBatch();
                }
                pendingMessages = true;
            }
            case PutProducer p -> {
                upsertProducer.setLong(1, p.producer().streamId());
                upsertProducer.setString(2, p.producer().producerId());
                upsertProducer.setLong(3, p.producer().epoch());
                upsertProducer.setLong(4, p.producer().seq());
                upsertProducer.addBatch();
                pendingProducers = true;
            }
            case TrimMessages t -> {
                flush();
                trimMessages.setLong(1, t.streamId());
                trimMessages.setLong(2, t.beforePosition());
                trimMessages.executeUpdate();
            }
            case DropStream d -> {
                flush();
                for (PreparedStatement ps : new PreparedStatement[] {dropMessages, dropProducers, dropStream}) {
                    ps.setLong(1, d.streamId());
                    ps.executeUpdate();
                }
            }
        }
    }

    /**
     * Executes the batched statements (one JDBC batch each, in mutation order per table);
     * called before any statement whose effect depends on them and at the end of a commit.
     */
    void flush() throws SQLException {
        if (pendingMessages) {
            insertMessage.executeBatch();
            pendingMessages = false;
        }
        if (pendingStreams) {
            upsertStream.executeBatch();
            pendingStreams = false;
        }
        if (pendingProducers) {
            upsertProducer.executeBatch();
            pendingProducers = false;
        }
        if (maxIdInBatch > persistedMaxId) {
            // Ids are never reused, even after the row is dropped.
            bumpMaxId.setLong(1, maxIdInBatch);
            bumpMaxId.executeUpdate();
        }
    }

    /** The transaction committed: what it wrote is now the baseline. */
    void committed() {
        persistedMaxId = Math.max(persistedMaxId, maxIdInBatch);
        maxIdInBatch = 0;
    }
}
