package dev.tether.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.SharedStreamStore;
import dev.tether.stream.SharedMemoryStore;
import java.time.InstantSource;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two nodes' owner leases on one store: one owns and serves (once loaded), the other forwards to
 * its URL; when the owner's lease is taken from it, it is told and stops serving, and the other
 * takes over.
 */
class OwnerLeaseTest {
    private static void await(CountDownLatch latch, String what) throws InterruptedException {
        assertTrue(latch.await(10, TimeUnit.SECONDS), what);
    }

    @Test
    void oneNodeServesTheOtherForwardsAndALostLeasePassesToTheOther() throws Exception {
        SharedMemoryStore shared = new SharedMemoryStore();
        SharedStreamStore store = shared.node();
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

            shared.lapseLeases(); // a was paused past its lease
            await(bLoaded, "b took the lapsed lease over");
            await(aLost, "a found out at its next renewal");
            assertInstanceOf(
                    OwnerLease.Route.Unavailable.class, a.route(), "a serves nothing more (its process stops)");
        }
    }
}
