package dev.tether.store.sqlite;

import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreContents;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import dev.tether.store.StreamRecord.ProducerTuple;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/** Table definitions and row mapping for {@link SqliteStreamStore}. */
final class SqliteSchema {
    private SqliteSchema() {}

    static final String STREAM_COLUMNS = "id, path, content_type, ttl_seconds, expires_at, created_at, "
            + "last_access, tail, retained_from, closed, closer_id, closer_epoch, closer_seq, stream_seq, "
            + "fork_source, fork_position, lifecycle";

    /** An update in place when the row exists (cheaper than INSERT OR REPLACE, which deletes first). */
    static final String UPSERT_STREAM = "INSERT INTO streams (" + STREAM_COLUMNS
            + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
            + java.util.Arrays.stream(STREAM_COLUMNS.split(",\\s*"))
                    .filter(c -> !c.equals("id"))
                    .map(c -> c + " = excluded." + c)
                    .collect(java.util.stream.Collectors.joining(", "));

    /** The row holding {@code from} (if any) and every later row before {@code to}. */
    static final String READ_SQL = "SELECT pos, data FROM messages WHERE stream_id = ?1 AND pos >= "
            + "COALESCE((SELECT pos FROM messages WHERE stream_id = ?1 AND pos <= ?2 ORDER BY pos DESC LIMIT 1), ?2) "
            + "AND pos < ?3 ORDER BY pos";

    static void create(Statement st) throws SQLException {
        st.execute(
                """
                CREATE TABLE IF NOT EXISTS streams (
                  id INTEGER PRIMARY KEY,
                  path TEXT NOT NULL,
                  content_type TEXT NOT NULL,
                  ttl_seconds INTEGER,
                  expires_at INTEGER,
                  created_at INTEGER NOT NULL,
                  last_access INTEGER NOT NULL,
                  tail INTEGER NOT NULL,
                  retained_from INTEGER NOT NULL,
                  closed INTEGER NOT NULL,
                  closer_id TEXT,
                  closer_epoch INTEGER,
                  closer_seq INTEGER,
                  stream_seq TEXT,
                  fork_source INTEGER,
                  fork_position INTEGER NOT NULL,
                  lifecycle TEXT NOT NULL)""");
        st.execute(
                """
                CREATE TABLE IF NOT EXISTS messages (
                  stream_id INTEGER NOT NULL,
                  pos INTEGER NOT NULL,
                  data BLOB NOT NULL,
                  PRIMARY KEY (stream_id, pos)) WITHOUT ROWID""");
        st.execute(
                """
                CREATE TABLE IF NOT EXISTS producers (
                  stream_id INTEGER NOT NULL,
                  producer_id TEXT NOT NULL,
                  epoch INTEGER NOT NULL,
                  seq INTEGER NOT NULL,
                  PRIMARY KEY (stream_id, producer_id)) WITHOUT ROWID""");
        st.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    }

    static StreamRecord readStream(ResultSet rs) throws SQLException {
        String closerId = rs.getString(11);
        ProducerTuple closer = closerId == null ? null : new ProducerTuple(closerId, rs.getLong(12), rs.getLong(13));
        return new StreamRecord(
                rs.getLong(1),
                rs.getString(2),
                rs.getString(3),
                nullableLong(rs, 4),
                nullableLong(rs, 5),
                rs.getLong(6),
                rs.getLong(7),
                rs.getLong(8),
                rs.getLong(9),
                rs.getInt(10) != 0,
                closer,
                rs.getString(14),
                nullableLong(rs, 15),
                rs.getLong(16),
                Lifecycle.valueOf(rs.getString(17)));
    }

    static void bindStream(PreparedStatement ps, StreamRecord r) throws SQLException {
        ps.setLong(1, r.id());
        ps.setString(2, r.path());
        ps.setString(3, r.contentType());
        setNullableLong(ps, 4, r.ttlSeconds());
        setNullableLong(ps, 5, r.expiresAtMillis());
        ps.setLong(6, r.createdAtMillis());
        ps.setLong(7, r.lastAccessMillis());
        ps.setLong(8, r.tail());
        ps.setLong(9, r.retainedFrom());
        ps.setInt(10, r.closed() ? 1 : 0);
        ProducerTuple c = r.closedBy();
        ps.setString(11, c == null ? null : c.producerId());
        setNullableLong(ps, 12, c == null ? null : c.epoch());
        setNullableLong(ps, 13, c == null ? null : c.seq());
        ps.setString(14, r.lastStreamSeq());
        setNullableLong(ps, 15, r.forkSourceId());
        ps.setLong(16, r.forkPosition());
        ps.setString(17, r.lifecycle().name());
    }

    /** Errors that mean "the store cannot take writes now" rather than a bug. */
    static boolean isUnavailable(SQLException e) {
        if (e instanceof SQLiteException se) {
            SQLiteErrorCode code = se.getResultCode();
            int primary = code.code & 0xff;
            return primary == SQLiteErrorCode.SQLITE_FULL.code
                    || primary == SQLiteErrorCode.SQLITE_READONLY.code
                    || primary == SQLiteErrorCode.SQLITE_IOERR.code
                    || primary == SQLiteErrorCode.SQLITE_CANTOPEN.code
                    || primary == SQLiteErrorCode.SQLITE_BUSY.code
                    || primary == SQLiteErrorCode.SQLITE_CORRUPT.code;
        }
        return false;
    }

    private static Long nullableLong(ResultSet rs, int col) throws SQLException {
        long v = rs.getLong(col);
        return rs.wasNull() ? null : v;
    }

    private static void setNullableLong(PreparedStatement ps, int col, Long v) throws SQLException {
        if (v == null) {
            ps.setNull(col, Types.INTEGER);
        } else {
            ps.setLong(col, v);
        }
    }

    /** The number of the last committed batch ({@code meta.batch}), 0 before the first. */
    static long committedBatch(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT value FROM meta WHERE key='batch'")) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    /**
     * Deletes message rows at or past their stream's tail. The engine never writes them (data and
     * tail commit together); earlier versions could, after a failed commit on a full disk, and they
     * made every later append to that stream fail on a duplicate key. One index seek per stream.
     */
    static int dropRowsBeyondTail(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            return st.executeUpdate("DELETE FROM messages WHERE stream_id IN (SELECT s.id FROM streams s "
                    + "WHERE EXISTS (SELECT 1 FROM messages m WHERE m.stream_id = s.id AND m.pos >= s.tail)) "
                    + "AND pos >= (SELECT tail FROM streams WHERE id = messages.stream_id)");
        }
    }

    /**
     * Records, once, the first stream id whose offsets carry its incarnation: streams below it
     * were created by a version that handed out unscoped offsets, which stay valid for them.
     */
    static void markScopedOffsets(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.executeUpdate("INSERT OR IGNORE INTO meta (key, value) SELECT 'scoped_offsets_from', 1 + max("
                    + "COALESCE((SELECT max(id) FROM streams), 0), "
                    + "COALESCE((SELECT value FROM meta WHERE key = 'max_stream_id'), 0))");
        }
    }

    /** Every stream row, producer row and the id high-water mark. */
    static StoreContents loadAll(Connection c) throws SQLException {
        List<StreamRecord> streams = new ArrayList<>();
        List<ProducerRecord> producers = new ArrayList<>();
        long maxId = 0;
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT " + STREAM_COLUMNS + " FROM streams")) {
            while (rs.next()) {
                StreamRecord r = readStream(rs);
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
        long scopedFrom = maxId + 1;
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT value FROM meta WHERE key='scoped_offsets_from'")) {
            if (rs.next()) {
                scopedFrom = rs.getLong(1);
            }
        }
        return new StoreContents(streams, producers, maxId, scopedFrom);
    }
}
