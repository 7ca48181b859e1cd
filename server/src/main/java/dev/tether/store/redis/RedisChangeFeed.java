package dev.tether.store.redis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.store.SharedStreamStore.Change;
import dev.tether.store.StreamRecord;
import io.lettuce.core.RedisClient;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The change feed of the Redis store: every commit script publishes what it changed on
 * {@code <prefix>changes} (a JSON array of {@code [id, record JSON or false]}), and this
 * subscription hands each message to the listeners. Lettuce subscribes again after a reconnect;
 * what was published meanwhile is lost, which is why the engine also polls.
 *
 * <p>Thread-safety: listeners are called on Lettuce's I/O thread and must not block.
 */
final class RedisChangeFeed implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RedisChangeFeed.class.getName());

    private final ObjectMapper json;
    private final StatefulRedisPubSubConnection<byte[], byte[]> connection;
    private final List<Consumer<List<Change>>> listeners = new CopyOnWriteArrayList<>();

    RedisChangeFeed(RedisClient client, ObjectMapper json, String prefix) {
        this.json = json;
        this.connection = client.connectPubSub(ByteArrayCodec.INSTANCE);
        connection.addListener(new RedisPubSubAdapter<>() {
            @Override
            public void message(byte[] channel, byte[] message) {
                deliver(message);
            }
        });
        connection.sync().subscribe(RedisScripts.bytes(prefix + "changes"));
    }

    void add(Consumer<List<Change>> listener) {
        listeners.add(listener);
    }

    private void deliver(byte[] message) {
        List<Change> changes = new ArrayList<>();
        try {
            for (JsonNode c : json.readTree(message)) {
                long id = Long.parseLong(c.get(0).asText());
                JsonNode rec = c.get(1);
                changes.add(new Change(id, rec.isTextual() ? json.readValue(rec.asText(), StreamRecord.class) : null));
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "a change notification does not parse: " + e.getMessage());
            return;
        }
        for (Consumer<List<Change>> l : listeners) {
            l.accept(changes);
        }
    }

    @Override
    public void close() {
        connection.close();
    }
}
