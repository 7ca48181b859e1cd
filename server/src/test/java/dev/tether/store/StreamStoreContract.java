package dev.tether.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link StreamStore} promises about conditional commits, run against each store
 * (SQLite, memory): all preconditions hold and the batch applies, or one fails and nothing does,
 * with the failed ones named. Two writers that decided on the same state cannot both commit.
 */
public abstract class StreamStoreContract {
    @TempDir
    protected Path dir;

    /** A fresh, empty store of the kind under test. */
    protected abstract StreamStore open() throws Exception;

    /** A live, empty text stream. */
    public static StreamRecord stream(long id, String path) {
        return new StreamRecord(
                id,
                path,
                "text/plain",
                null,
                null,
                0,
                0,
                0,
                0,
                false,
                null,
                null,
                null,
                0,
                StreamRecord.Lifecycle.LIVE);
    }

    /** A live fork of {@code source} at its tail, as the engine makes one. */
    public static StreamRecord fork(long id, String path, StreamRecord source) {
        return new StreamRecord(
                id,
                path,
                source.contentType(),
                null,
                null,
                0,
                0,
                source.tail(),
                0,
                false,
                null,
                null,
                source.id(),
                source.tail(),
                StreamRecord.Lifecycle.LIVE);
    }

    private static Mutation append(long id, long at, String text) {
        return new Mutation.AppendMessages(id, List.of(new StoredMessage(at, text.getBytes())));
    }

    private static String all(StreamStore store, long id) throws StoreException {
        StringBuilder out = new StringBuilder();
        for (StoredMessage m : store.read(id, 0, Long.MAX_VALUE, 1 << 20)) {
            out.append(new String(m.data()));
        }
        return out.toString();
    }

    private static StreamRecord record(StreamStore store, long id) throws StoreException {
        return store.load().streams().stream()
                .filter(r -> r.id() == id)
                .findFirst()
                .orElseThrow();
    }

    @Test
    void whenEveryPreconditionHoldsTheBatchApplies() throws Exception {
        try (StreamStore store = open()) {
            StreamRecord s = stream(1, "a");
            assertEquals(
                    CommitResult.COMMITTED,
                    store.commit(
                            new Commit(List.of(new Precondition.PathFree("a")), List.of(new Mutation.PutStream(s)))));
            CommitResult r = store.commit(new Commit(
                    List.of(new Precondition.StreamIs(s), new Precondition.ProducerIs(1, "p", null)),
                    List.of(
                            append(1, 0, "abc"),
                            new Mutation.PutStream(s.withTail(3)),
                            new Mutation.PutProducer(new ProducerRecord(1, "p", 0, 0)))));
            assertEquals(CommitResult.COMMITTED, r);
            assertEquals("abc", all(store, 1));
            assertEquals(3, record(store, 1).tail());
            assertEquals(List.of(new ProducerRecord(1, "p", 0, 0)), store.load().producers());
        }
    }

    @Test
    void twoWritersThatDecidedOnTheSameRecordCannotBothCommit() throws Exception {
        try (StreamStore store = open()) {
            StreamRecord s = stream(1, "a");
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(s))));
            // both read tail 0 and decided to append there
            Commit first = new Commit(
                    List.of(new Precondition.StreamIs(s)),
                    List.of(append(1, 0, "one"), new Mutation.PutStream(s.withTail(3))));
            Commit second = new Commit(
                    List.of(new Precondition.StreamIs(s)),
                    List.of(append(1, 0, "two!"), new Mutation.PutStream(s.withTail(4))));
            assertEquals(CommitResult.COMMITTED, store.commit(first));
            CommitResult.Conflict lost = assertInstanceOf(CommitResult.Conflict.class, store.commit(second));
            assertEquals(List.of(new Precondition.StreamIs(s)), lost.failed());
            assertEquals("one", all(store, 1), "nothing of the losing batch was applied");
            assertEquals(3, record(store, 1).tail());
        }
    }

    @Test
    void aRecordPreconditionFailsWhenTheStreamClosedWithoutItsTailMoving() throws Exception {
        try (StreamStore store = open()) {
            StreamRecord s = stream(1, "a");
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(s))));
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(s.withClosed(null)))));
            assertInstanceOf(
                    CommitResult.Conflict.class,
                    store.commit(new Commit(
                            List.of(new Precondition.StreamIs(s)),
                            List.of(append(1, 0, "late"), new Mutation.PutStream(s.withTail(4))))),
                    "an append decided on the open stream must not land after the close");
            assertEquals("", all(store, 1));
        }
    }

    @Test
    void aProducerThatMovedOnConflictsAndItsStateStays() throws Exception {
        try (StreamStore store = open()) {
            StreamRecord s = stream(1, "a");
            ProducerRecord at7 = new ProducerRecord(1, "p", 0, 7);
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(s), new Mutation.PutProducer(at7))));
            Precondition stale = new Precondition.ProducerIs(1, "p", new ProducerRecord(1, "p", 0, 6));
            Precondition absent = new Precondition.ProducerIs(1, "p", null);
            CommitResult r = store.commit(new Commit(
                    List.of(stale, absent, new Precondition.ProducerIs(1, "q", null)),
                    List.of(append(1, 0, "x"), new Mutation.PutProducer(new ProducerRecord(1, "p", 0, 8)))));
            assertEquals(
                    List.of(stale, absent),
                    assertInstanceOf(CommitResult.Conflict.class, r).failed());
            assertEquals(List.of(at7), store.load().producers());
            assertEquals("", all(store, 1));
            assertEquals(
                    CommitResult.COMMITTED,
                    store.commit(new Commit(
                            List.of(new Precondition.ProducerIs(1, "p", at7)),
                            List.of(new Mutation.PutProducer(new ProducerRecord(1, "p", 0, 8))))));
        }
    }

    @Test
    void aPathIsTakenByALiveOrSoftDeletedStreamButNotByADetachedOne() throws Exception {
        try (StreamStore store = open()) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(stream(1, "a")))));
            Precondition free = new Precondition.PathFree("a");
            assertInstanceOf(
                    CommitResult.Conflict.class,
                    store.commit(new Commit(List.of(free), List.of(new Mutation.PutStream(stream(2, "a"))))));
            assertEquals(1, store.load().streams().size(), "the second stream was not created");
            store.commit(Commit.unconditional(List.of(
                    new Mutation.PutStream(stream(1, "a").withLifecycle(StreamRecord.Lifecycle.SOFT_DELETED)))));
            assertInstanceOf(
                    CommitResult.Conflict.class,
                    store.commit(new Commit(List.of(free), List.of(new Mutation.PutStream(stream(2, "a"))))));
            store.commit(Commit.unconditional(
                    List.of(new Mutation.PutStream(stream(1, "a").withLifecycle(StreamRecord.Lifecycle.DETACHED)))));
            assertEquals(
                    CommitResult.COMMITTED,
                    store.commit(new Commit(List.of(free), List.of(new Mutation.PutStream(stream(2, "a"))))));
            assertTrue(store.load().streams().stream().anyMatch(r -> r.id() == 2));
        }
    }

    @Test
    void aRecordPreconditionOnAMissingStreamFails() throws Exception {
        try (StreamStore store = open()) {
            assertInstanceOf(
                    CommitResult.Conflict.class,
                    store.commit(new Commit(
                            List.of(new Precondition.StreamIs(stream(9, "z"))),
                            List.of(new Mutation.PutStream(stream(9, "z"))))));
            assertEquals(List.of(), store.load().streams());
        }
    }
}
