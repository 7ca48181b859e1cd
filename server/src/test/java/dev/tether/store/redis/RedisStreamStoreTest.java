package dev.tether.store.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.Mutation;
import dev.tether.store.Precondition;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreContents;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamStoreContract;
import io.lettuce.core.RedisClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Redis store on a real redis-server: what survives a kill -9 of Redis, reads, trims, durability settings. */
class RedisStreamStoreTest {
    @TempDir
    Path dir;

    @Test
    void whatWasCommittedSurvivesAKilledRedis() throws Exception {
        try (RedisServer redis = new RedisServer(dir)) {
            StreamRecord s = StreamStoreContract.stream(7, "chat/1");
            try (RedisStreamStore store = RedisStreamStore.open(redis.uri(), "t:", "n1", false)) {
                store.commit(Commit.unconditional(List.of(
                        new Mutation.PutStream(s.withTail(5)),
                        new Mutation.AppendMessages(7, List.of(new StoredMessage(0, "hello".getBytes()))),
                        new Mutation.PutProducer(new ProducerRecord(7, "p", 1, 3)))));
            }
            redis.kill();
            redis.start();
            try (RedisStreamStore store = RedisStreamStore.open(redis.uri(), "t:", "n1", false)) {
                StoreContents contents = store.load();
                assertEquals(List.of(s.withTail(5)), contents.streams());
                assertEquals(List.of(new ProducerRecord(7, "p", 1, 3)), contents.producers());
                assertEquals(7, contents.maxStreamId());
                assertEquals(
                        "hello", new String(store.read(7, 0, 5, 1024).get(0).data()));
            }
        }
    }

    @Test
    void aForkHoldsItsSourceUntilItIsDroppedOrTrimmedPastItsForkPoint() throws Exception {
        try (RedisServer redis = new RedisServer(dir);
                RedisStreamStore store = RedisStreamStore.open(redis.uri(), "t:", "n1", false)) {
            StreamRecord src = StreamStoreContract.stream(1, "src").withTail(10);
            StreamRecord kept = StreamStoreContract.fork(2, "kept", src);
            StreamRecord trimmed = StreamStoreContract.fork(3, "trimmed", src);
            store.commit(Commit.unconditional(List.of(
                    new Mutation.PutStream(src), new Mutation.PutStream(kept), new Mutation.PutStream(trimmed))));
            assertEquals(2, store.stream(1).forkRefs());
            store.commit(Commit.unconditional(List.of(
                    new Mutation.PutStream(trimmed.withTail(30).withRetainedFrom(20)),
                    new Mutation.TrimMessages(3, 20))));
            assertEquals(1, store.stream(1).forkRefs(), "trimmed past its fork point, it reads only its own data");
            store.commit(Commit.unconditional(List.of(new Mutation.DropStream(3))));
            assertEquals(1, store.stream(1).forkRefs(), "dropped, it does not let go of its source a second time");
            store.commit(Commit.unconditional(List.of(new Mutation.DropStream(2))));
            assertEquals(0, store.stream(1).forkRefs(), "a fork that read its source lets it go when dropped");
        }
    }

    @Test
    void readsStartAtTheRowHoldingTheOffsetAndStopAtMaxBytesOrTheEnd() throws Exception {
        try (RedisServer redis = new RedisServer(dir);
                RedisStreamStore store = RedisStreamStore.open(redis.uri(), "t:", "n1", false)) {
            List<StoredMessage> rows = new ArrayList<>();
            for (int i = 0; i < 600; i++) {
                rows.add(new StoredMessage(i * 10L, "0123456789".getBytes()));
            }
            store.commit(Commit.unconditional(List.of(
                    new Mutation.PutStream(StreamStoreContract.stream(1, "a").withTail(6000)),
                    new Mutation.AppendMessages(1, rows))));
            List<StoredMessage> mid = store.read(1, 25, 6000, 30);
            assertEquals(
                    List.of(20L, 30L, 40L),
                    mid.stream().map(StoredMessage::position).toList());
            assertEquals(600, store.read(1, 0, 6000, Integer.MAX_VALUE).size(), "pages past the first");
            assertEquals(2, store.read(1, 0, 20, Integer.MAX_VALUE).size(), "stops before `to`");
            store.commit(Commit.unconditional(List.of(new Mutation.TrimMessages(1, 3000))));
            assertEquals(3000, store.read(1, 0, 6000, Integer.MAX_VALUE).get(0).position(), "trimmed below 3000");
            store.commit(Commit.unconditional(List.of(new Mutation.DropStream(1))));
            assertEquals(List.of(), store.read(1, 0, 6000, Integer.MAX_VALUE));
            assertEquals(List.of(), store.load().streams());
        }
    }

    @Test
    void anExpiryDecidedBeforeARenewalIsRefusedAndAGoneStreamIsNotRenewed() throws Exception {
        try (RedisServer redis = new RedisServer(dir);
                RedisStreamStore store = RedisStreamStore.open(redis.uri(), "t:", "n1", false)) {
            StreamRecord s = StreamStoreContract.stream(1, "a");
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(s))));
            store.renew(1, 5_000);
            Precondition stale = new Precondition.NotRenewedAfter(1, 4_999);
            assertEquals(
                    new CommitResult.Conflict(List.of(stale)),
                    store.commit(new Commit(List.of(stale), List.of(new Mutation.DropStream(1)))),
                    "a node that decided on a view without the renewal at 5000 loses");
            assertEquals(
                    CommitResult.COMMITTED,
                    store.commit(new Commit(
                            List.of(new Precondition.NotRenewedAfter(1, 5_000)), List.of(new Mutation.DropStream(1)))),
                    "one that saw it wins");
            store.renew(1, 6_000); // a read that looked the stream up just before it went
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(s))));
            assertEquals(0, store.stream(1).renewedAtMillis(), "the renewal of the gone stream was not kept");
        }
    }

    @Test
    void streamsAreReadByIdManyAtOnceAndAnIdNoStreamHasIsLeftOut() throws Exception {
        try (RedisServer redis = new RedisServer(dir);
                RedisStreamStore store = RedisStreamStore.open(redis.uri(), "t:", "n1", false)) {
            store.commit(Commit.unconditional(List.of(
                    new Mutation.PutStream(StreamStoreContract.stream(1, "a")),
                    new Mutation.PutStream(StreamStoreContract.stream(2, "b")),
                    new Mutation.PutStream(StreamStoreContract.stream(3, "c")))));
            store.renew(2, 7_000);
            java.util.Map<Long, dev.tether.store.StoredStream> found = store.streamsById(List.of(3L, 9L, 1L, 2L));
            assertEquals(java.util.Set.of(1L, 2L, 3L), found.keySet(), "9 is no stream's id");
            assertEquals("c", found.get(3L).record().path());
            assertEquals(7_000, found.get(2L).renewedAtMillis());
            assertEquals(java.util.Map.of(), store.streamsById(List.of()));
            List<Mutation> many = new java.util.ArrayList<>();
            List<Long> ids = new java.util.ArrayList<>();
            for (long id = 10; id < 2_510; id++) { // more ids than one script call takes
                many.add(new Mutation.PutStream(StreamStoreContract.stream(id, "many/" + id)));
                ids.add(id);
            }
            store.commit(Commit.unconditional(many));
            assertEquals(new java.util.HashSet<>(ids), store.streamsById(ids).keySet(), "every one of 2,500");
        }
    }

    @Test
    void aSecondProcessWithTheSameNodeIdIsRefusedUntilTheFirstLetsGoAndOtherNodesAreWelcome() throws Exception {
        try (RedisServer redis = new RedisServer(dir)) {
            RedisStreamStore first = RedisStreamStore.open(redis.uri(), "t:", "n1", false);
            StoreException refused =
                    assertThrows(StoreException.class, () -> RedisStreamStore.open(redis.uri(), "t:", "n1", false));
            assertTrue(refused.getMessage().contains("another live Tether process is node n1"), refused.getMessage());
            RedisStreamStore.open(redis.uri(), "t:", "n2", false).close(); // another node
            RedisStreamStore.open(redis.uri(), "other:", "n1", false).close(); // another prefix is another key space
            first.close();
            RedisStreamStore.open(redis.uri(), "t:", "n1", false).close();
        }
    }

    @Test
    void aNodeWhoseLeaseWasLostCannotCommit() throws Exception {
        try (RedisServer redis = new RedisServer(dir);
                RedisStreamStore store = RedisStreamStore.open(redis.uri(), "t:", "n1", false)) {
            RedisClient admin = RedisClient.create(redis.uri());
            try (var c = admin.connect()) {
                c.sync().del("t:node:n1"); // as if the node was paused past its lease and it lapsed
            } finally {
                admin.shutdown();
            }
            StoreException fenced = assertThrows(
                    StoreException.class,
                    () -> store.commit(
                            Commit.unconditional(List.of(new Mutation.PutStream(StreamStoreContract.stream(1, "a"))))));
            assertTrue(fenced.getMessage().contains("no longer holds its lease"), fenced.getMessage());
            assertEquals(List.of(), store.load().streams(), "nothing was written");
        }
    }

    @Test
    void aLeaseIsHeldByOneNodeAtATimeAndFencesTheCommitsOfAHolderThatLostIt() throws Exception {
        try (RedisServer redis = new RedisServer(dir);
                RedisStreamStore a = RedisStreamStore.open(redis.uri(), "t:", "a", false);
                RedisStreamStore b = RedisStreamStore.open(redis.uri(), "t:", "b", false)) {
            String token = a.tryLease("owner", "http://a", 60_000);
            assertTrue(token != null, "a takes the free lease");
            assertEquals(null, b.tryLease("owner", "http://b", 60_000), "b cannot take it while a holds it");
            assertEquals("http://a", b.leaseHolder("owner"));
            assertTrue(a.renewLease("owner", token, 60_000));
            a.fenceCommits("owner", token);
            a.commit(Commit.unconditional(List.of(new Mutation.PutStream(StreamStoreContract.stream(1, "x")))));
            RedisClient admin = RedisClient.create(redis.uri());
            try (var c = admin.connect()) {
                c.sync().del("t:lease:owner"); // a lapsed: a paused past its lease
            } finally {
                admin.shutdown();
            }
            String taken = b.tryLease("owner", "http://b", 60_000);
            assertTrue(taken != null, "b takes the lapsed lease");
            assertEquals(false, a.renewLease("owner", token, 60_000), "a finds out it lost it");
            StoreException fenced = assertThrows(
                    StoreException.class,
                    () -> a.commit(
                            Commit.unconditional(List.of(new Mutation.PutStream(StreamStoreContract.stream(2, "y"))))));
            assertTrue(fenced.getMessage().contains("lease t:lease:owner"), fenced.getMessage());
            assertEquals(
                    List.of(1L),
                    b.load().streams().stream().map(StreamRecord::id).toList(),
                    "a wrote nothing");
        }
    }

    @Test
    void withReplicasRequiredACommitIsAcknowledgedOnlyOnceAReplicaHasIt() throws Exception {
        try (RedisServer primary = new RedisServer(dir.resolve("primary"));
                RedisServer replica = new RedisServer(dir.resolve("replica"))) {
            RedisClient admin = RedisClient.create(replica.uri());
            try (var c = admin.connect()) {
                String[] hostPort = primary.uri().substring("redis://".length()).split(":");
                c.sync().replicaof(hostPort[0], Integer.parseInt(hostPort[1]));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!c.sync().info("replication").contains("master_link_status:up")
                        && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
            } finally {
                admin.shutdown();
            }
            try (RedisStreamStore store = RedisStreamStore.open(primary.uri(), "t:", "n1", false, 1)) {
                store.commit(Commit.unconditional(List.of(new Mutation.PutStream(StreamStoreContract.stream(1, "a")))));
                replica.kill();
                StoreException unconfirmed = assertThrows(
                        StoreException.class,
                        () -> store.commit(Commit.unconditional(
                                List.of(new Mutation.PutStream(StreamStoreContract.stream(2, "b"))))));
                assertTrue(unconfirmed.outcomeUnknown(), "on the primary, not confirmed: in doubt");
                assertTrue(
                        unconfirmed.getMessage().contains("reached 0 of the 1 Redis replicas"),
                        unconfirmed.getMessage());
            }
        }
    }

    @Test
    void aRedisThatWouldAcknowledgeBeforeTheDiskIsRefused() throws Exception {
        try (RedisServer redis = new RedisServer(dir)) {
            RedisClient admin = RedisClient.create(redis.uri());
            try (var c = admin.connect()) {
                c.sync().configSet("appendfsync", "everysec");
            } finally {
                admin.shutdown();
            }
            StoreException refused =
                    assertThrows(StoreException.class, () -> RedisStreamStore.open(redis.uri(), "t:", "n1", false));
            assertTrue(refused.getMessage().contains("appendfsync always"), refused.getMessage());
            RedisStreamStore.open(redis.uri(), "t:", "n1", true).close(); // the operator's explicit choice
        }
    }
}
