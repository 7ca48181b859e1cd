package dev.tether.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.SharedStreamStore;
import dev.tether.store.StoreContents;
import dev.tether.store.StoredMessage;
import dev.tether.store.StoredStream;
import dev.tether.store.StreamRecord;
import java.time.InstantSource;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Two nodes' owner leases on one store: one owns and serves (once loaded), the other forwards to
 * its URL; when the owner's lease is taken from it, it is told and stops serving, and the other
 * takes over.
 */
class OwnerLeaseTest {
    /** The store's leases only; nothing else is called. */
    private static final class Leases implements SharedStreamStore {
        final Map<String, String> held = new ConcurrentHashMap<>();

        @Override
        public String tryLease(String name, String holder, long ttlMillis) {
            String token = java.util.UUID.randomUUID().toString();
            return held.putIfAbsent(name, token + " " + holder) == null ? token : null;
        }

        @Override
        public boolean renewLease(String name, String token, long ttlMillis) {
            String h = held.get(name);
            return h != null && h.startsWith(token + " ");
        }

        @Override
        public String leaseHolder(String name) {
            String h = held.get(name);
            return h == null ? null : h.substring(h.indexOf(' ') + 1);
        }

        @Override
        public void fenceCommits(String name, String token) {}

        @Override
        public Map<String, StoredStream> streams(Collection<String> paths, boolean withProducers) {
            throw new UnsupportedOperationException();
        }

        @Override
        public StoredStream stream(long id) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Map<Long, StreamRecord> records(Collection<Long> ids) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long allocateId(long atLeast) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long maxId() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void renew(long streamId, long atMillis) {}

        @Override
        public void onChange(Consumer<List<Change>> listener) {}

        @Override
        public StoreContents load() {
            throw new UnsupportedOperationException();
        }

        @Override
        public CommitResult commit(Commit commit) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<StoredMessage> read(long streamId, long from, long to, int maxBytes) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean durable() {
            return true;
        }

        @Override
        public String describe() {
            return "leases";
        }

        @Override
        public String kind() {
            return "test";
        }

        @Override
        public void close() {}
    }

    private static void await(CountDownLatch latch, String what) throws InterruptedException {
        assertTrue(latch.await(10, TimeUnit.SECONDS), what);
    }

    @Test
    void oneNodeServesTheOtherForwardsAndALostLeasePassesToTheOther() throws Exception {
        Leases store = new Leases();
        CountDownLatch aLoaded = new CountDownLatch(1);
        CountDownLatch aLost = new CountDownLatch(1);
        CountDownLatch bLoaded = new CountDownLatch(1);
        try (OwnerLease a = new OwnerLease(
                        store, "http://a", InstantSource.system(), aLoaded::countDown, aLost::countDown);
                OwnerLease b =
                        new OwnerLease(store, "http://b", InstantSource.system(), bLoaded::countDown, () -> {})) {
            a.start();
            await(aLoaded, "a took the free lease and loaded the sessions");
            b.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!(b.route() instanceof OwnerLease.Route.Forward) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(new OwnerLease.Route.Forward("http://a"), b.route(), "b forwards to the owner");
            while (!(a.route() instanceof OwnerLease.Route.Local) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertInstanceOf(OwnerLease.Route.Local.class, a.route(), "a serves once loaded");
            assertEquals(1, bLoaded.getCount(), "b loads nothing while a owns the sessions");

            store.held.clear(); // a's lease lapsed (a was paused past it)
            await(bLoaded, "b took the lapsed lease over");
            await(aLost, "a found out at its next renewal");
            assertInstanceOf(
                    OwnerLease.Route.Unavailable.class, a.route(), "a serves nothing more (its process stops)");
        }
    }
}
