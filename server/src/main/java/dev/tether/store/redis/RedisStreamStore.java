package dev.tether.store.redis;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.Precondition;
import dev.tether.store.ProducerRecord;
import dev.tether.store.SharedStreamStore;
import dev.tether.store.StoreContents;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StoredStream;
import dev.tether.store.StreamRecord;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyValue;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The Redis store (cluster mode's storage): stream records, message rows and producer state in one
 * Redis 7 that any number of Tether nodes share. Every commit is one Lua script ({@code commit.lua})
 * that checks the node's lease and the commit's preconditions and applies its mutations
 * atomically, then publishes what changed for the other nodes. With {@code appendonly yes} and
 * {@code appendfsync always} (checked on open) Redis answers a script, and sends anything it
 * published, only after its writes are fsynced, so a commit that returned is durable and
 * {@link #sync} has nothing left to do.
 *
 * <p>Keys under the prefix: {@code streams} (id → record JSON), {@code tails} (id → tail),
 * {@code paths} (path → id of the stream holding it), {@code forks} (id → streams forked from it),
 * {@code access} (id → latest TTL renewal), {@code pos:<id>} (a sorted set of row positions),
 * {@code data:<id>} (position → bytes), {@code prod:<id>} (producer → "epoch:seq"), {@code meta}
 * ({@code max_id}), {@code node:<node id>} (a node's lease), {@code lease:<name>} ("token holder":
 * cluster-wide leases such as the sessions' owner); channel {@code changes}. One Redis
 * primary (Sentinel for failover), not Redis Cluster: a commit may touch several streams, and a
 * script's keys must live on one node.
 *
 * <p>Thread-safety: one connection for commands (Lettuce serializes them on it) and one for the
 * change feed; every method may be called from any thread.
 */
public final class RedisStreamStore implements SharedStreamStore {
    /**
     * Stream records as JSON. Derived properties written with them ({@code fork} from
     * {@code isFork()}) are ignored when read back: a record is rebuilt from its components.
     */
    private static final ObjectMapper JSON =
            new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private static final RedisScripts COMMIT = new RedisScripts("commit.lua");
    private static final RedisScripts READ = new RedisScripts("read.lua");
    private static final int PAGE = 256;
    /** Paths or ids read by one script call ({@link #readStreams}). */
    private static final int NAMES_PER_READ = 1000;

    private static final java.time.Duration COMMAND_TIMEOUT = java.time.Duration.ofSeconds(5);
    private static final java.time.Duration REPLICA_TIMEOUT = java.time.Duration.ofSeconds(1);

    private final RedisClient client;
    private final StatefulRedisConnection<byte[], byte[]> connection;
    private final RedisCommands<byte[], byte[]> redis;
    private final String uri;
    private final byte[] prefix;
    private final String prefixText;
    private RedisNodeLease lease;
    private RedisChangeFeed changes;
    /** Replicas a commit must reach before it is acknowledged (0: the primary's AOF suffices). */
    private int replicas;
    /** {name, token} of the lease every commit must hold, or null (see {@link #fenceCommits}). */
    private volatile String[] fence;

    private RedisStreamStore(
            RedisClient client, StatefulRedisConnection<byte[], byte[]> connection, String uri, String prefix) {
        this.client = client;
        this.connection = connection;
        this.redis = connection.sync();
        this.uri = uri;
        this.prefixText = prefix;
        this.prefix = prefix.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Connects to the Redis at {@code uri}, keeps every key under {@code prefix} and takes the
     * lease of node {@code nodeId}. Unless {@code acceptWeakDurability}, refuses a Redis that would
     * acknowledge writes before they are on disk ({@code appendonly} off, or {@code appendfsync}
     * other than {@code always}).
     */
    public static RedisStreamStore open(String uri, String prefix, String nodeId, boolean acceptWeakDurability)
            throws StoreException {
        return open(uri, prefix, nodeId, acceptWeakDurability, 0);
    }

    /**
     * As above; with {@code replicas} above 0, a commit is acknowledged only once that many
     * replicas have it ({@code WAIT}), so a Sentinel failover to one of them loses nothing
     * acknowledged.
     */
    public static RedisStreamStore open(
            String uri, String prefix, String nodeId, boolean acceptWeakDurability, int replicas)
            throws StoreException {
        RedisURI where = RedisURI.create(uri);
        where.setTimeout(COMMAND_TIMEOUT);
        RedisClient client = RedisClient.create(where);
        // While Redis is away, commands fail at once (503s the clients retry) instead of queueing
        // behind the reconnect: lookups run on event loops, which must not wait for it.
        client.setOptions(ClientOptions.builder()
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .build());
        try {
            StatefulRedisConnection<byte[], byte[]> connection = client.connect(ByteArrayCodec.INSTANCE);
            RedisStreamStore store = new RedisStreamStore(client, connection, uri, prefix);
            store.replicas = replicas;
            if (!acceptWeakDurability) {
                store.requireFsyncPerWrite();
            }
            store.lease = RedisNodeLease.take(store.redis, prefix, nodeId);
            if (store.lease == null) {
                throw new StoreException(
                        "another live Tether process is node " + nodeId + " on the Redis at " + uri + " (key "
                                + prefix + "node:" + nodeId + "): give each node its own --node-id; a node that"
                                + " died lets go within " + RedisNodeLease.LEASE_MS / 1000 + " s",
                        null,
                        false);
            }
            store.changes = new RedisChangeFeed(client, JSON, prefix);
            return store;
        } catch (RedisException e) {
            client.shutdown();
            throw new StoreException("cannot reach Redis at " + uri + ": " + e.getMessage(), e, true);
        } catch (StoreException e) {
            client.shutdown();
            throw e;
        }
    }

    private void requireFsyncPerWrite() throws StoreException {
        String appendonly = config("appendonly");
        String fsync = config("appendfsync");
        if (!"yes".equals(appendonly) || !"always".equals(fsync)) {
            throw new StoreException(
                    "Redis at " + uri + " acknowledges writes before they are on disk (appendonly " + appendonly
                            + ", appendfsync " + fsync + "): set appendonly yes and appendfsync always, so nothing"
                            + " acknowledged is lost when Redis restarts",
                    null,
                    false);
        }
    }

    private String config(String name) {
        return redis.configGet(name).values().stream().findFirst().orElse(null);
    }

    private byte[] key(String suffix) {
        return (prefixText + suffix).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public StoreContents load() throws StoreException {
        try {
            List<StreamRecord> streams = new ArrayList<>();
            List<ProducerRecord> producers = new ArrayList<>();
            for (byte[] json : redis.hgetall(key("streams")).values()) {
                StreamRecord r = JSON.readValue(json, StreamRecord.class);
                streams.add(r);
                redis.hgetall(key("prod:" + r.id())).forEach((p, v) -> producers.add(producer(r.id(), p, v)));
            }
            byte[] max = redis.hget(key("meta"), "max_id".getBytes(StandardCharsets.UTF_8));
            long maxId = max == null ? 0 : Long.parseLong(new String(max, StandardCharsets.UTF_8));
            return new StoreContents(streams, producers, maxId, 0);
        } catch (IOException e) {
            throw new StoreException("a stream record in Redis does not parse: " + e.getMessage(), e, false);
        } catch (RedisException e) {
            throw failure("load", e);
        }
    }

    private static ProducerRecord producer(long streamId, byte[] id, byte[] value) {
        String[] es = new String(value, StandardCharsets.UTF_8).split(":");
        return new ProducerRecord(
                streamId, new String(id, StandardCharsets.UTF_8), Long.parseLong(es[0]), Long.parseLong(es[1]));
    }

    @Override
    public CommitResult commit(Commit commit) throws StoreException {
        List<Object> failed;
        byte[][] keys = {prefix};
        try {
            failed =
                    COMMIT.run(redis, ScriptOutputType.MULTI, keys, RedisCommitPlan.encode(JSON, commit, lease, fence));
        } catch (RedisConnectionException | RedisCommandTimeoutException e) {
            // The script may or may not have run before the connection went.
            throw StoreException.outcomeUnknown("Redis at " + uri + " did not answer a commit: " + e.getMessage(), e);
        } catch (RedisException e) {
            throw failure("commit", e);
        }
        if (failed.isEmpty()) {
            if (!commit.apply().isEmpty()) {
                awaitReplicas(); // a commit that only checked its preconditions wrote nothing to replicate
            }
            return CommitResult.COMMITTED;
        }
        List<Precondition> which = new ArrayList<>();
        for (Object index : failed) {
            which.add(commit.expect().get(((Long) index).intValue() - 1));
        }
        return new CommitResult.Conflict(which);
    }

    private void awaitReplicas() throws StoreException {
        if (replicas == 0) {
            return;
        }
        long reached;
        try {
            reached = redis.waitForReplication(replicas, REPLICA_TIMEOUT.toMillis());
        } catch (RedisException e) {
            throw StoreException.outcomeUnknown("Redis at " + uri + " did not confirm replication: " + e, e);
        }
        if (reached < replicas) {
            throw StoreException.outcomeUnknown(
                    "the commit reached " + reached + " of the " + replicas + " Redis replicas required within "
                            + REPLICA_TIMEOUT.toMillis()
                            + " ms; it is on the primary, but a failover now could lose it",
                    null);
        }
    }

    @Override
    public Map<String, StoredStream> streams(Collection<String> paths, boolean withProducers) throws StoreException {
        Map<String, StoredStream> out = new HashMap<>();
        for (StoredStream s :
                readStreams("path", paths.stream().map(RedisScripts::bytes).toList(), withProducers)) {
            out.put(s.record().path(), s);
        }
        return out;
    }

    @Override
    public Map<Long, StoredStream> streamsById(Collection<Long> ids) throws StoreException {
        Map<Long, StoredStream> out = new HashMap<>();
        for (StoredStream s : readStreams(
                "id",
                ids.stream().map(id -> RedisScripts.bytes(Long.toString(id))).toList(),
                false)) {
            out.put(s.record().id(), s);
        }
        return out;
    }

    /**
     * The streams with these paths or ids ({@code by}), a script call per thousand: one round trip
     * for a usual batch or sweep, and no single call that holds Redis for long when very many
     * streams are read at once.
     */
    private List<StoredStream> readStreams(String by, List<byte[]> names, boolean withProducers) throws StoreException {
        List<StoredStream> out = new ArrayList<>(names.size());
        for (int from = 0; from < names.size(); from += NAMES_PER_READ) {
            out.addAll(readStreamsOnce(
                    by, names.subList(from, Math.min(names.size(), from + NAMES_PER_READ)), withProducers));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private List<StoredStream> readStreamsOnce(String by, List<byte[]> names, boolean withProducers)
            throws StoreException {
        byte[][] args = new byte[names.size() + 2][];
        args[0] = RedisScripts.bytes(by);
        args[1] = RedisScripts.bytes(withProducers ? "1" : "0");
        for (int i = 0; i < names.size(); i++) {
            args[i + 2] = names.get(i);
        }
        try {
            List<Object> rows = READ.run(redis, ScriptOutputType.MULTI, new byte[][] {prefix}, args);
            List<StoredStream> out = new ArrayList<>(rows.size());
            for (Object row : rows) {
                List<Object> f = (List<Object>) row;
                long id = Long.parseLong(text(f.get(0)));
                List<ProducerRecord> producers = new ArrayList<>();
                List<Object> flat = (List<Object>) f.get(4);
                for (int i = 0; i + 1 < flat.size(); i += 2) {
                    producers.add(producer(id, (byte[]) flat.get(i), (byte[]) flat.get(i + 1)));
                }
                out.add(new StoredStream(
                        JSON.readValue((byte[]) f.get(1), StreamRecord.class),
                        producers,
                        Integer.parseInt(text(f.get(2))),
                        Long.parseLong(text(f.get(3)))));
            }
            return out;
        } catch (IOException e) {
            throw new StoreException("a stream record in Redis does not parse: " + e.getMessage(), e, false);
        } catch (RedisException e) {
            throw failure("read", e);
        }
    }

    private static String text(Object redisValue) {
        return new String((byte[]) redisValue, StandardCharsets.UTF_8);
    }

    @Override
    public Map<Long, StreamRecord> records(Collection<Long> ids) throws StoreException {
        Map<Long, StreamRecord> out = new HashMap<>();
        if (ids.isEmpty()) {
            return out;
        }
        try {
            byte[][] fields = ids.stream()
                    .map(id -> RedisScripts.bytes(Long.toString(id)))
                    .toArray(byte[][]::new);
            for (KeyValue<byte[], byte[]> kv : redis.hmget(key("streams"), fields)) {
                if (kv.hasValue()) {
                    StreamRecord r = JSON.readValue(kv.getValue(), StreamRecord.class);
                    out.put(r.id(), r);
                }
            }
            return out;
        } catch (IOException e) {
            throw new StoreException("a stream record in Redis does not parse: " + e.getMessage(), e, false);
        } catch (RedisException e) {
            throw failure("read", e);
        }
    }

    @Override
    public long allocateId(long atLeast) throws StoreException {
        try {
            return redis.eval(
                    "local v = redis.call('HINCRBY', KEYS[1], 'max_id', 1) "
                            + "if v < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'max_id', ARGV[1]) "
                            + "v = tonumber(ARGV[1]) end return v",
                    ScriptOutputType.INTEGER,
                    new byte[][] {key("meta")},
                    RedisScripts.bytes(Long.toString(atLeast)));
        } catch (RedisException e) {
            throw failure("id allocation", e);
        }
    }

    @Override
    public long maxId() throws StoreException {
        try {
            byte[] max = redis.hget(key("meta"), RedisScripts.bytes("max_id"));
            return max == null ? 0 : Long.parseLong(new String(max, StandardCharsets.UTF_8));
        } catch (RedisException e) {
            throw failure("read", e);
        }
    }

    @Override
    public void renew(long streamId, long atMillis) throws StoreException {
        try {
            // Not for a stream already gone: its entry would outlive it (a drop removes the entry).
            redis.eval(
                    "if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 "
                            + "and tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') < tonumber(ARGV[2]) then "
                            + "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 0",
                    ScriptOutputType.INTEGER,
                    new byte[][] {key("access"), key("streams")},
                    RedisScripts.bytes(Long.toString(streamId)),
                    RedisScripts.bytes(Long.toString(atMillis)));
        } catch (RedisException e) {
            throw failure("TTL renewal", e);
        }
    }

    @Override
    public String tryLease(String name, String holder, long ttlMillis) throws StoreException {
        String token = java.util.UUID.randomUUID().toString();
        try {
            String ok = redis.set(
                    key("lease:" + name),
                    RedisScripts.bytes(token + " " + holder),
                    io.lettuce.core.SetArgs.Builder.nx().px(ttlMillis));
            return "OK".equals(ok) ? token : null;
        } catch (RedisException e) {
            throw failure("lease", e);
        }
    }

    @Override
    public boolean renewLease(String name, String token, long ttlMillis) throws StoreException {
        try {
            long renewed = redis.eval(
                    "local v = redis.call('GET', KEYS[1]) "
                            + "if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then "
                            + "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
                    ScriptOutputType.INTEGER,
                    new byte[][] {key("lease:" + name)},
                    RedisScripts.bytes(token),
                    RedisScripts.bytes(Long.toString(ttlMillis)));
            return renewed == 1;
        } catch (RedisException e) {
            throw failure("lease renewal", e);
        }
    }

    @Override
    public String leaseHolder(String name) throws StoreException {
        try {
            byte[] v = redis.get(key("lease:" + name));
            if (v == null) {
                return null;
            }
            String held = new String(v, StandardCharsets.UTF_8);
            return held.substring(held.indexOf(' ') + 1);
        } catch (RedisException e) {
            throw failure("read", e);
        }
    }

    @Override
    public void fenceCommits(String name, String token) {
        fence = new String[] {name, token};
    }

    @Override
    public void onChange(Consumer<List<Change>> listener) {
        changes.add(listener);
    }

    @Override
    public List<StoredMessage> read(long streamId, long from, long to, int maxBytes) throws StoreException {
        byte[] positions = key("pos:" + streamId);
        byte[] data = key("data:" + streamId);
        List<StoredMessage> out = new ArrayList<>();
        try {
            List<byte[]> first = redis.zrevrangebyscore(
                    positions, Range.create(Double.NEGATIVE_INFINITY, (double) from), Limit.create(0, 1));
            double start =
                    first.isEmpty() ? from : Double.parseDouble(new String(first.get(0), StandardCharsets.UTF_8));
            long bytes = 0;
            for (long offset = 0; ; offset += PAGE) {
                List<byte[]> page = redis.zrangebyscore(
                        positions,
                        Range.from(Range.Boundary.including(start), Range.Boundary.excluding((double) to)),
                        Limit.create(offset, PAGE));
                if (page.isEmpty()) {
                    return out;
                }
                List<io.lettuce.core.KeyValue<byte[], byte[]>> rows = redis.hmget(data, page.toArray(byte[][]::new));
                for (int i = 0; i < page.size(); i++) {
                    long position = Long.parseLong(new String(page.get(i), StandardCharsets.UTF_8));
                    byte[] row = rows.get(i).getValueOrElse(null);
                    if (row == null) {
                        continue; // trimmed meanwhile
                    }
                    StoredMessage m = new StoredMessage(position, row);
                    if (m.end() <= from) {
                        continue;
                    }
                    out.add(m);
                    bytes += row.length;
                    if (bytes >= maxBytes) {
                        return out;
                    }
                }
            }
        } catch (RedisException e) {
            throw failure("read", e);
        }
    }

    private StoreException failure(String what, RedisException e) {
        return new StoreException("Redis " + what + " failed at " + uri + ": " + e.getMessage(), e, true);
    }

    @Override
    public String describe() {
        return uri + " (keys " + prefixText + "*)";
    }

    @Override
    public String kind() {
        return "redis";
    }

    @Override
    public void close() {
        if (changes != null) {
            changes.close();
        }
        if (lease != null) {
            lease.close();
        }
        connection.close();
        client.shutdown();
    }
}
