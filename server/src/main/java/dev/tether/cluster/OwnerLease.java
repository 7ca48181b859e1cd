package dev.tether.cluster;

import dev.tether.store.SharedStreamStore;
import dev.tether.store.StoreException;
import java.time.InstantSource;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Cluster mode: which node runs the stateful services — sessions, responses and conversations,
 * and with them every agent run and the embedded model's KV cache. One node at a time holds the
 * store's {@code owner} lease; it serves those routes and every other node forwards them to it
 * (its URL is the lease's holder). The owner renews the lease every {@link #RENEW_MILLIS}; when it
 * dies the lease lapses after {@link #TTL_MILLIS}, another node takes it, loads every session from
 * the log and ends the runs the dead owner left running ({@code failed}), as a restart does.
 *
 * <p>Fencing: once it holds the lease, every commit of the owner checks its token in the store,
 * so an owner paused past its lease cannot write after another took over; when it finds out (a
 * renewal fails) it calls {@code lost}, which stops the process: its in-memory sessions are stale.
 *
 * <p>Thread-safety: the lease thread changes the state; {@link #route} is read from any thread.
 */
public final class OwnerLease implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(OwnerLease.class.getName());
    static final String NAME = "owner";
    public static final long TTL_MILLIS = 10_000;
    static final long RENEW_MILLIS = 2_000;

    /** Where a request for the stateful services goes from this node. */
    public sealed interface Route {
        /** This node owns them and has loaded them. */
        record Local() implements Route {}

        /** The owner at this URL serves them. */
        record Forward(String url) implements Route {}

        /** No node can serve them right now (the owner is starting, or none holds the lease yet). */
        record Unavailable(String reason) implements Route {}
    }

    private final SharedStreamStore store;
    private final String selfUrl;
    private final InstantSource clock;
    private final Runnable load;
    private final Runnable lost;
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tether-owner-lease");
        t.setDaemon(true);
        return t;
    });
    private volatile String token;
    private volatile long renewedAt;
    private volatile boolean loaded;
    private volatile String ownerUrl;

    /**
     * @param selfUrl the URL other nodes reach this one at
     * @param load    loads the services when this node becomes the owner (may take a while)
     * @param lost    called once if this node loses the lease it held
     */
    public OwnerLease(SharedStreamStore store, String selfUrl, InstantSource clock, Runnable load, Runnable lost) {
        this.store = store;
        this.selfUrl = selfUrl;
        this.clock = clock;
        this.load = load;
        this.lost = lost;
    }

    public void start() {
        thread.scheduleWithFixedDelay(this::tick, 0, RENEW_MILLIS, TimeUnit.MILLISECONDS);
    }

    public Route route() {
        if (token != null) {
            return loaded
                    ? new Route.Local()
                    : new Route.Unavailable("this node just became the sessions' owner and is loading them");
        }
        String url = ownerUrl;
        if (url == null || url.equals(selfUrl)) {
            return new Route.Unavailable("no node owns the sessions yet (the last owner stopped; another takes"
                    + " over within " + TTL_MILLIS / 1000 + " s)");
        }
        return new Route.Forward(url);
    }

    public boolean owner() {
        return token != null;
    }

    private void tick() {
        try {
            if (token == null) {
                acquire();
            } else {
                renew();
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "the owner lease check failed", e);
        }
    }

    private void acquire() {
        try {
            String taken = store.tryLease(NAME, selfUrl, TTL_MILLIS);
            if (taken == null) {
                ownerUrl = store.leaseHolder(NAME);
                return;
            }
            store.fenceCommits(NAME, taken);
            renewedAt = clock.millis();
            token = taken;
            ownerUrl = selfUrl;
            LOG.log(System.Logger.Level.INFO, "this node (" + selfUrl + ") now owns the sessions; loading them");
            Thread.ofVirtual().name("tether-owner-load").start(() -> {
                load.run();
                loaded = true;
                LOG.log(System.Logger.Level.INFO, "sessions loaded; serving them");
            });
        } catch (StoreException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot check the owner lease: " + e.getMessage());
        }
    }

    private void renew() {
        boolean held;
        try {
            held = store.renewLease(NAME, token, TTL_MILLIS);
        } catch (StoreException e) {
            // Unsure: keep serving while the lease cannot have lapsed; the fence refuses our writes after.
            held = clock.millis() - renewedAt < TTL_MILLIS;
            LOG.log(System.Logger.Level.WARNING, "cannot renew the owner lease: " + e.getMessage());
            if (held) {
                return;
            }
        }
        if (held) {
            renewedAt = clock.millis();
            return;
        }
        LOG.log(System.Logger.Level.ERROR, "this node lost the sessions' owner lease; another node owns them now");
        token = null;
        loaded = false;
        thread.shutdown();
        lost.run();
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
