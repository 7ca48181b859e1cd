package dev.tether.store.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.Commit;
import dev.tether.store.Mutation;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamStoreContract;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The SQLite store on real files: atomic batches, reload, and a WAL that stays bounded. */
class SqliteStreamStoreTest {
    @TempDir
    Path dir;

    private static StreamRecord stream(long id) {
        return StreamStoreContract.stream(id, "s" + id);
    }

    @Test
    void dataAndProducerStateCommitTogetherAndReload() throws Exception {
        try (SqliteStreamStore store = SqliteStreamStore.open(dir, null)) {
            StreamRecord s = stream(1);
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(s))));
            store.commit(Commit.unconditional(List.of(
                    new Mutation.AppendMessages(1, List.of(new StoredMessage(0, new byte[] {1, 2, 3}))),
                    new Mutation.PutStream(s.withTail(3)),
                    new Mutation.PutProducer(new ProducerRecord(1, "p", 0, 7)))));
            store.sync();
        }
        try (SqliteStreamStore store = SqliteStreamStore.open(dir, null)) {
            var contents = store.load();
            assertEquals(3, contents.streams().get(0).tail(), "the stream row has the new tail");
            assertEquals(7, contents.producers().get(0).seq(), "producer state is stored with the data");
            assertEquals(3, store.read(1, 0, 3, 1024).get(0).length());
        }
    }

    /**
     * SQLite rolls a transaction back by itself on SQLITE_FULL; the connection must not then run
     * the next batch statement by statement outside a transaction (finding 11).
     */
    @Test
    void aCommitRefusedByAFullStoreLeavesNothingAndTheNextCommitIsWhole() throws Exception {
        StreamRecord s = stream(1);
        try (SqliteStreamStore store = SqliteStreamStore.open(dir, 128L * 1024)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(s))));
            List<StoredMessage> tooMuch = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                tooMuch.add(new StoredMessage(i * 4096L, new byte[4096]));
            }
            StoreException full = assertThrows(
                    StoreException.class,
                    () -> store.commit(Commit.unconditional(List.of(
                            new Mutation.AppendMessages(1, tooMuch), new Mutation.PutStream(s.withTail(64 * 4096))))));
            assertTrue(full.unavailable(), "a full store is unavailable, not a bug: " + full.getMessage());
            store.commit(Commit.unconditional(List.of(
                    new Mutation.AppendMessages(1, List.of(new StoredMessage(0, new byte[] {7}))),
                    new Mutation.PutStream(s.withTail(1)))));
            assertEquals(1, store.read(1, 0, Long.MAX_VALUE, 1 << 20).size(), "only the batch that committed is there");
            store.sync();
        }
        try (SqliteStreamStore store = SqliteStreamStore.open(dir, 128L * 1024)) {
            assertEquals(1, store.load().streams().get(0).tail(), "the committed tail survives a reopen");
            assertEquals(1, store.read(1, 0, Long.MAX_VALUE, 1 << 20).size(), "and nothing of the refused batch");
        }
    }

    /** An older version could leave rows past a tail after a failed commit; they blocked appends forever. */
    @Test
    void rowsPastAStreamsTailAreRemovedWhenTheStoreIsLoaded() throws Exception {
        StreamRecord s = stream(1);
        try (SqliteStreamStore store = SqliteStreamStore.open(dir, null)) {
            store.commit(Commit.unconditional(List.of(
                    new Mutation.PutStream(s.withTail(2)),
                    new Mutation.AppendMessages(1, List.of(new StoredMessage(0, new byte[] {1, 2}))),
                    new Mutation.AppendMessages(1, List.of(new StoredMessage(2, new byte[] {3}))))));
            store.sync();
        }
        try (SqliteStreamStore store = SqliteStreamStore.open(dir, null)) {
            assertEquals(2, store.load().streams().get(0).tail());
            store.commit(Commit.unconditional(List.of(
                    new Mutation.AppendMessages(1, List.of(new StoredMessage(2, new byte[] {9}))),
                    new Mutation.PutStream(s.withTail(3)))));
            assertEquals(
                    9, store.read(1, 2, 3, 1024).get(0).data()[0], "the append at the tail took the stray row's place");
        }
    }

    /**
     * Under continuous commits a background checkpoint never finds the WAL idle; without the
     * writer's rewind the WAL grew by hundreds of MB in seconds. It must stay bounded.
     */
    @Test
    @Timeout(120)
    void theWalStaysBoundedUnderContinuousCommits() throws Exception {
        int streams = 40;
        try (SqliteStreamStore store = SqliteStreamStore.open(dir, null)) {
            StreamRecord[] records = new StreamRecord[streams];
            for (int i = 0; i < streams; i++) {
                records[i] = stream(i + 1);
                store.commit(Commit.unconditional(List.of(new Mutation.PutStream(records[i]))));
            }
            long maxWal = 0;
            for (int commit = 0; commit < 2500; commit++) {
                List<Mutation> batch = new ArrayList<>();
                for (int i = 0; i < streams; i++) {
                    long tail = records[i].tail();
                    batch.add(new Mutation.AppendMessages(i + 1, List.of(new StoredMessage(tail, new byte[256]))));
                    records[i] = records[i].withTail(tail + 256);
                    batch.add(new Mutation.PutStream(records[i]));
                }
                store.commit(Commit.unconditional(batch));
                if (commit % 50 == 0) {
                    store.sync();
                    maxWal = Math.max(maxWal, Files.size(dir.resolve("tether.db-wal")));
                }
            }
            // Unbounded, 2500 commits x ~40 pages x 4 KiB would be about 400 MB of WAL.
            assertTrue(maxWal < 160L << 20, "the WAL stayed below 160 MiB (largest seen: " + (maxWal >> 20) + " MiB)");
        }
    }
}
