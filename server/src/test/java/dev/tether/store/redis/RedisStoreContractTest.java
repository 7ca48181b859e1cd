package dev.tether.store.redis;

import dev.tether.store.StreamStore;
import dev.tether.store.StreamStoreContract;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The conditional-commit contract on the Redis store, against a real redis-server. */
class RedisStoreContractTest extends StreamStoreContract {
    private static Path home;
    private static RedisServer redis;

    @BeforeAll
    static void start() throws Exception {
        home = Files.createTempDirectory("tether-redis-contract");
        redis = new RedisServer(home);
    }

    @AfterAll
    static void stop() throws Exception {
        redis.close();
    }

    @Override
    protected StreamStore open() throws Exception {
        // every test its own key space in the one server
        return RedisStreamStore.open(redis.uri(), "t" + UUID.randomUUID() + ":", "n1", false);
    }
}
