package dev.tether.store.redis;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.Mutation;
import dev.tether.store.Precondition;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreContents;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamStore;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The Redis store (cluster mode's storage): stream records, message rows and producer state in one
 * Redis 7, every commit one Lua script ({@code commit.lua}) that checks the commit's preconditions
 * and applies its mutations atomically. With {@code appendonly yes} and {@code appendfsync always}
 * (checked on open) Redis answers a script only after its writes are fsynced, so a commit that
 * returned is durable and {@link #sync} has nothing left to do.
 *
 * <p>Keys under the prefix: {@code streams} (id → record JSON), {@code tails} (id → tail),
 * {@code paths} (path → id of the stream holding it), {@code pos:<id>} (a sorted set of row
 * positions), {@code data:<id>} (position → bytes), {@code prod:<id>} (producer → "epoch:seq"),
 * {@code meta} ({@code max_id}). One Redis primary (Sentinel for failover), not Redis Cluster: a
 * commit may touch several streams, and a script's keys must live on one node.
 *
 * <p>Thread-safety: one connection; Lettuce serializes commands on it, so commits and reads may
 * come from any thread.
 */
public final class RedisStreamStore implements StreamStore {
    /**
     * Stream records as JSON. Derived properties written with them ({@code fork} from
     * {@code isFork()}) are ignored when read back: a record is rebuilt from its components.
     */
    private static final ObjectMapper JSON =
            new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private static final String SCRIPT = loadScript();
    private static final int PAGE = 256;
    static final long LEASE_MS = 15_000;

    private final RedisClient client;
    private final StatefulRedisConnection<byte[], byte[]> connection;
    private final RedisCommands<byte[], byte[]> redis;
    private final String uri;
    private final byte[] prefix;
    private final String prefixText;
    private String sha;
    /** This node's token in the prefix's node lease; every commit script checks it. */
    private final String token = UUID.randomUUID().toString();

    private final ScheduledExecutorService renewals = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "redis-node-lease");
        t.setDaemon(true);
        return t;
    });

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
     * Connects to the Redis at {@code uri} and keeps every key under {@code prefix}. Unless
     * {@code acceptWeakDurability}, refuses a Redis that would acknowledge writes before they are
     * on disk ({@code appendonly} off, or {@code appendfsync} other than {@code always}).
     */
    public static RedisStreamStore open(String uri, String prefix, boolean acceptWeakDurability) throws StoreException {
        RedisClient client = RedisClient.create(RedisURI.create(uri));
        try {
            StatefulRedisConnection<byte[], byte[]> connection = client.connect(ByteArrayCodec.INSTANCE);
            RedisStreamStore store = new RedisStreamStore(client, connection, uri, prefix);
            if (!acceptWeakDurability) {
                store.requireFsyncPerWrite();
            }
            store.takeNodeLease();
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

    /**
     * One node per Redis (and prefix) until cluster mode: the node lease is a key holding this
     * node's token for {@link #LEASE_MS}, renewed every third of it. A second node is refused; a
     * node that lost the lease (paused past it) gets every commit refused by the script.
     */
    private void takeNodeLease() throws StoreException {
        byte[] lease = key("node");
        String ok = redis.set(
                lease,
                token.getBytes(StandardCharsets.UTF_8),
                SetArgs.Builder.nx().px(LEASE_MS));
        if (!"OK".equals(ok)) {
            throw new StoreException(
                    "another Tether node serves the Redis at " + uri + " (key " + prefixText + "node): cluster mode"
                            + " is not built yet, so one node per Redis; a node that died lets go within "
                            + LEASE_MS / 1000 + " s",
                    null,
                    false);
        }
        renewals.scheduleAtFixedRate(this::renewNodeLease, LEASE_MS / 3, LEASE_MS / 3, TimeUnit.MILLISECONDS);
    }

    private void renewNodeLease() {
        try {
            redis.eval(
                    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
                    ScriptOutputType.INTEGER,
                    new byte[][] {key("node")},
                    token.getBytes(StandardCharsets.UTF_8),
                    Long.toString(LEASE_MS).getBytes(StandardCharsets.UTF_8));
        } catch (RedisException e) {
            // Redis is away: the next renewal tries again; commits fail meanwhile on their own.
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
        List<byte[]> args = new ArrayList<>();
        args.add(null); // the plan, once the payloads have their indexes
        ObjectNode plan = JSON.createObjectNode().put("node", token);
        ArrayNode expect = plan.putArray("expect");
        for (Precondition p : commit.expect()) {
            expect.add(
                    switch (p) {
                        case Precondition.TailIs t ->
                            JSON.createObjectNode()
                                    .put("t", "tail")
                                    .put("id", Long.toString(t.streamId()))
                                    .put("tail", Long.toString(t.tail()));
                        case Precondition.PathFree f ->
                            JSON.createObjectNode().put("t", "path").put("path", f.path());
                        case Precondition.ProducerIs q -> {
                            ObjectNode o = JSON.createObjectNode()
                                    .put("t", "prod")
                                    .put("id", Long.toString(q.streamId()))
                                    .put("p", q.producerId());
                            if (q.expected() == null) {
                                o.put("v", false);
                            } else {
                                o.put(
                                        "v",
                                        q.expected().epoch() + ":"
                                                + q.expected().seq());
                            }
                            yield o;
                        }
                    });
        }
        ArrayNode apply = plan.putArray("apply");
        for (Mutation m : commit.apply()) {
            apply.add(mutation(m, args));
        }
        try {
            args.set(0, JSON.writeValueAsBytes(plan));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Object> failed = run(args.toArray(byte[][]::new));
        if (failed.isEmpty()) {
            return CommitResult.COMMITTED;
        }
        List<Precondition> which = new ArrayList<>();
        for (Object index : failed) {
            which.add(commit.expect().get(((Long) index).intValue() - 1));
        }
        return new CommitResult.Conflict(which);
    }

    private static ObjectNode mutation(Mutation m, List<byte[]> args) {
        ObjectNode o = JSON.createObjectNode();
        switch (m) {
            case Mutation.PutStream p -> {
                StreamRecord r = p.record();
                o.put("t", "put")
                        .put("id", Long.toString(r.id()))
                        .put("path", r.path())
                        .put("tail", Long.toString(r.tail()));
                o.put("holdsPath", r.lifecycle() != StreamRecord.Lifecycle.DETACHED);
                try {
                    o.put("rec", JSON.writeValueAsString(r));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            case Mutation.AppendMessages a -> {
                o.put("t", "append").put("id", Long.toString(a.streamId()));
                ArrayNode pos = o.putArray("pos");
                ArrayNode data = o.putArray("d");
                for (StoredMessage msg : a.messages()) {
                    pos.add(Long.toString(msg.position()));
                    args.add(msg.data());
                    data.add(args.size()); // ARGV is 1-based: this payload is ARGV[size]
                }
            }
            case Mutation.PutProducer p ->
                o.put("t", "prod")
                        .put("id", Long.toString(p.producer().streamId()))
                        .put("p", p.producer().producerId())
                        .put("v", p.producer().epoch() + ":" + p.producer().seq());
            case Mutation.TrimMessages t ->
                o.put("t", "trim")
                        .put("id", Long.toString(t.streamId()))
                        .put("before", Long.toString(t.beforePosition()));
            case Mutation.DropStream d -> o.put("t", "drop").put("id", Long.toString(d.streamId()));
        }
        return o;
    }

    private List<Object> run(byte[][] args) throws StoreException {
        byte[][] keys = {prefix};
        try {
            if (sha == null) {
                sha = redis.scriptLoad(SCRIPT.getBytes(StandardCharsets.UTF_8));
            }
            try {
                return redis.evalsha(sha, ScriptOutputType.MULTI, keys, args);
            } catch (RedisNoScriptException e) {
                sha = redis.scriptLoad(SCRIPT.getBytes(StandardCharsets.UTF_8)); // Redis restarted: load it again
                return redis.evalsha(sha, ScriptOutputType.MULTI, keys, args);
            }
        } catch (RedisConnectionException | RedisCommandTimeoutException e) {
            // The script may or may not have run before the connection went.
            throw StoreException.outcomeUnknown("Redis at " + uri + " did not answer a commit: " + e.getMessage(), e);
        } catch (RedisException e) {
            throw failure("commit", e);
        }
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
    public boolean durable() {
        return true;
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
        renewals.shutdownNow();
        try {
            redis.eval(
                    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                    ScriptOutputType.INTEGER,
                    new byte[][] {key("node")},
                    token.getBytes(StandardCharsets.UTF_8));
        } catch (RedisException e) {
            // the lease lapses by itself
        }
        connection.close();
        client.shutdown();
    }

    private static String loadScript() {
        try (InputStream in = RedisStreamStore.class.getResourceAsStream("commit.lua")) {
            if (in == null) {
                throw new IllegalStateException("commit.lua is missing from the build");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
