package dev.tether.stream;

import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import java.util.List;
import java.util.Objects;

/** PUT: creates a stream (optionally a fork), or confirms an identical existing one. */
final class CreateOperation {
    private final StreamReader reader;

    CreateOperation(StreamReader reader) {
        this.reader = reader;
    }

    CreateResult apply(WriteBatch batch, CreateRequest req) throws StoreException {
        if (req.expiresAtMillis() != null && req.expiresAtMillis() <= batch.now()) {
            // It would be created already expired: a 201 for a stream that answers 404 (finding 22).
            return new Rejection.Invalid("Stream-Expires-At " + java.time.Instant.ofEpochMilli(req.expiresAtMillis())
                    + " is not in the future; send a later time, or Stream-TTL for a sliding lifetime");
        }
        StreamRecord existing = Lifecycles.current(batch, req.path());
        if (existing != null) {
            if (existing.lifecycle() == Lifecycle.SOFT_DELETED) {
                return new Rejection.Conflict(
                        "stream " + req.path()
                                + " was deleted but forks still read from it; the path cannot be re-created until they are deleted");
            }
            return compare(batch, existing, req);
        }
        StreamRecord created = req.fork() == null ? plain(batch, req) : null;
        if (created == null) {
            CreateResult forked = fork(batch, req);
            if (!(forked instanceof CreateResult.Created c)) {
                return forked;
            }
            created = c.stream();
        }
        if (!req.initialMessages().isEmpty()) {
            created = batch.appendData(created, req.initialMessages());
        }
        if (req.closed()) {
            created = created.withClosed(null);
        }
        batch.put(created);
        return new CreateResult.Created(created);
    }

    private static StreamRecord plain(WriteBatch batch, CreateRequest req) throws StoreException {
        String type = req.contentType() == null ? ContentTypes.DEFAULT : req.contentType();
        return new StreamRecord(
                batch.allocateId(),
                req.path(),
                type,
                req.ttlSeconds(),
                req.expiresAtMillis(),
                batch.now(),
                batch.now(),
                0,
                0,
                false,
                null,
                null,
                null,
                0,
                Lifecycle.LIVE);
    }

    private CreateResult fork(WriteBatch batch, CreateRequest req) throws StoreException {
        CreateRequest.Fork fork = req.fork();
        StreamRecord source = Lifecycles.current(batch, fork.sourcePath());
        if (source == null) {
            return new Rejection.NotFound("fork source " + fork.sourcePath() + " does not exist");
        }
        if (source.lifecycle() == Lifecycle.SOFT_DELETED) {
            return new Rejection.Conflict("fork source " + fork.sourcePath() + " has been deleted");
        }
        String type = req.contentType() == null ? source.contentType() : req.contentType();
        if (!ContentTypes.sameMediaType(type, source.contentType())) {
            return new Rejection.Conflict(
                    "a fork must have its source's content type " + source.contentType() + ", not " + type);
        }
        Object position = forkPosition(source, fork);
        if (position instanceof Rejection rejection) {
            return rejection;
        }
        long at = (Long) position;
        batch.expectUnchanged(source); // cluster mode: not deleted, nor moved under the fork point, meanwhile
        boolean inherit = req.ttlSeconds() == null && req.expiresAtMillis() == null;
        Long ttl = inherit ? source.ttlSeconds() : req.ttlSeconds();
        Long expires = inherit ? source.expiresAtMillis() : req.expiresAtMillis();
        batch.addForkRef(source.id(), 1);
        return new CreateResult.Created(new StreamRecord(
                batch.allocateId(),
                req.path(),
                type,
                ttl,
                expires,
                batch.now(),
                batch.now(),
                at,
                0,
                false,
                null,
                null,
                source.id(),
                at,
                Lifecycle.LIVE));
    }

    /** The fork point as a position, or a {@link Rejection}. */
    private Object forkPosition(StreamRecord source, CreateRequest.Fork fork) throws StoreException {
        long base = fork.offset() == null ? source.tail() : reader.positionOf(source, fork.offset());
        if (base < 0) {
            return new Rejection.Invalid("Stream-Fork-Offset " + fork.offset() + " was not issued for the fork source "
                    + source.path() + " (it belongs to another stream, or to an earlier stream at that path);"
                    + " use an offset read from the source");
        }
        if (base > source.tail()) {
            return new Rejection.Invalid(
                    "Stream-Fork-Offset " + fork.offset() + " is beyond the source's tail " + Offset.tail(source));
        }
        if (base < reader.startPosition(source)) {
            return new Rejection.Invalid(
                    "Stream-Fork-Offset " + fork.offset() + " is below the source's retained data");
        }
        boolean json = ContentTypes.isJson(source.contentType());
        long sub = fork.subOffset() == null ? 0 : fork.subOffset();
        if (!json) {
            if (base + sub > source.tail()) {
                return new Rejection.Invalid("Stream-Fork-Sub-Offset " + sub + " goes past the source's tail");
            }
            return base + sub;
        }
        // JSON mode counts the sub-offset in messages, and the fork point must be a message boundary.
        long at = base;
        long remaining = sub;
        boolean checkedBoundary = base == source.tail();
        while (remaining > 0 || !checkedBoundary) {
            if (at >= source.tail()) {
                return new Rejection.Invalid("Stream-Fork-Sub-Offset " + sub + " goes past the source's last message");
            }
            List<StoredMessage> rows = reader.readChainBlocking(source, at, source.tail(), 64 * 1024);
            if (!checkedBoundary) {
                if (rows.isEmpty() || rows.get(0).position() != at) {
                    return new Rejection.Invalid("Stream-Fork-Offset " + fork.offset() + " is not a message boundary");
                }
                checkedBoundary = true;
            }
            for (StoredMessage m : rows) {
                if (remaining == 0) {
                    break;
                }
                at = m.end();
                remaining--;
            }
            if (rows.isEmpty()) {
                return new Rejection.Invalid("Stream-Fork-Sub-Offset " + sub + " goes past the source's last message");
            }
        }
        return at;
    }

    private CreateResult compare(WriteBatch batch, StreamRecord existing, CreateRequest req) throws StoreException {
        String type = req.contentType();
        if (type == null) {
            type = req.fork() == null ? ContentTypes.DEFAULT : existing.contentType();
        }
        if (!ContentTypes.sameMediaType(type, existing.contentType())) {
            return conflict(existing, "content type " + existing.contentType());
        }
        boolean sameExpiry = Objects.equals(req.ttlSeconds(), existing.ttlSeconds())
                && Objects.equals(req.expiresAtMillis(), existing.expiresAtMillis());
        if (!sameExpiry && !(req.fork() != null && req.ttlSeconds() == null && req.expiresAtMillis() == null)) {
            return conflict(existing, "TTL/expiry settings");
        }
        if (req.closed() != existing.closed()) {
            return conflict(existing, existing.closed() ? "closed state (it is closed)" : "closed state (it is open)");
        }
        if (!sameFork(batch, existing, req.fork())) {
            return conflict(existing, "fork source and offset");
        }
        return new CreateResult.Existing(existing);
    }

    private boolean sameFork(WriteBatch batch, StreamRecord existing, CreateRequest.Fork fork) throws StoreException {
        if (fork == null) {
            return !existing.isFork();
        }
        if (!existing.isFork()) {
            return false;
        }
        // The stream now at the source path, not one that held it once (expired, and the path re-created)
        StreamRecord source = batch.byId(existing.forkSourceId());
        StreamRecord atPath = batch.byPath(fork.sourcePath());
        if (source == null || atPath == null || atPath.id() != source.id()) {
            return false;
        }
        if (fork.offset() == null && fork.subOffset() == null) {
            return true; // "fork at the tail" named no position, so any fork of this source matches
        }
        return forkPosition(source, fork) instanceof Long at && at == existing.forkPosition();
    }

    private static Rejection conflict(StreamRecord existing, String what) {
        return new Rejection.Conflict("stream " + existing.path() + " already exists with a different " + what);
    }
}
