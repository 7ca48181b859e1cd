package dev.tether.store.redis;

import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A node's lease on its id: the key {@code <prefix>node:<id>} holds a token of this process for
 * {@link #LEASE_MS}, renewed every third of it. A second process with the same node id is refused
 * while the lease is current; every commit script checks the token, so a node paused past its
 * lease (a long GC, a frozen VM) cannot write when it wakes up.
 *
 * <p>Thread-safety: immutable apart from the renewal thread.
 */
final class RedisNodeLease implements AutoCloseable {
    static final long LEASE_MS = 15_000;

    private final RedisCommands<byte[], byte[]> redis;
    private final byte[] key;
    final String nodeId;
    final String token = UUID.randomUUID().toString();
    private final ScheduledExecutorService renewals = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "redis-node-lease");
        t.setDaemon(true);
        return t;
    });

    private RedisNodeLease(RedisCommands<byte[], byte[]> redis, String prefix, String nodeId) {
        this.redis = redis;
        this.nodeId = nodeId;
        this.key = RedisScripts.bytes(prefix + "node:" + nodeId);
    }

    /** Takes the lease, or returns null when another live process holds this node id. */
    static RedisNodeLease take(RedisCommands<byte[], byte[]> redis, String prefix, String nodeId) {
        RedisNodeLease lease = new RedisNodeLease(redis, prefix, nodeId);
        String ok = redis.set(
                lease.key, RedisScripts.bytes(lease.token), SetArgs.Builder.nx().px(LEASE_MS));
        if (!"OK".equals(ok)) {
            lease.renewals.shutdownNow();
            return null;
        }
        lease.renewals.scheduleAtFixedRate(lease::renew, LEASE_MS / 3, LEASE_MS / 3, TimeUnit.MILLISECONDS);
        return lease;
    }

    private void renew() {
        try {
            redis.eval(
                    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
                    ScriptOutputType.INTEGER,
                    new byte[][] {key},
                    RedisScripts.bytes(token),
                    RedisScripts.bytes(Long.toString(LEASE_MS)));
        } catch (RedisException e) {
            // Redis is away: the next renewal tries again; commits fail meanwhile on their own.
        }
    }

    @Override
    public void close() {
        renewals.shutdownNow();
        try {
            redis.eval(
                    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                    ScriptOutputType.INTEGER,
                    new byte[][] {key},
                    RedisScripts.bytes(token));
        } catch (RedisException e) {
            // the lease lapses by itself
        }
    }
}
