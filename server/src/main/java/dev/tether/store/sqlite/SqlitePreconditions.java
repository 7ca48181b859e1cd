package dev.tether.store.sqlite;

import dev.tether.store.Precondition;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StreamRecord;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** Checks a commit's preconditions inside the writer's open transaction, before it applies anything. */
final class SqlitePreconditions {
    private SqlitePreconditions() {}

    /** The preconditions that do not hold (empty: all do). */
    static List<Precondition> failed(Connection c, List<Precondition> expect) throws SQLException {
        List<Precondition> failed = new ArrayList<>();
        for (Precondition p : expect) {
            if (!holds(c, p)) {
                failed.add(p);
            }
        }
        return failed;
    }

    private static boolean holds(Connection c, Precondition p) throws SQLException {
        return switch (p) {
            case Precondition.StreamIs t -> {
                try (PreparedStatement ps =
                        c.prepareStatement("SELECT " + SqliteSchema.STREAM_COLUMNS + " FROM streams WHERE id = ?")) {
                    ps.setLong(1, t.expected().id());
                    try (ResultSet rs = ps.executeQuery()) {
                        yield rs.next() && SqliteSchema.readStream(rs).equals(t.expected());
                    }
                }
            }
            case Precondition.PathFree f -> {
                try (PreparedStatement ps =
                        c.prepareStatement("SELECT 1 FROM streams WHERE path = ? AND lifecycle <> ? LIMIT 1")) {
                    ps.setString(1, f.path());
                    ps.setString(2, StreamRecord.Lifecycle.DETACHED.name());
                    try (ResultSet rs = ps.executeQuery()) {
                        yield !rs.next();
                    }
                }
            }
            case Precondition.ProducerIs q -> {
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT epoch, seq FROM producers WHERE stream_id = ? AND producer_id = ?")) {
                    ps.setLong(1, q.streamId());
                    ps.setString(2, q.producerId());
                    try (ResultSet rs = ps.executeQuery()) {
                        ProducerRecord now = rs.next()
                                ? new ProducerRecord(q.streamId(), q.producerId(), rs.getLong(1), rs.getLong(2))
                                : null;
                        yield Objects.equals(now, q.expected());
                    }
                }
            }
            case Precondition.NotRenewedAfter n -> true; // renewals here live in the records
        };
    }
}
