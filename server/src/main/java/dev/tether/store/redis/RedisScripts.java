package dev.tether.store.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * One Lua script of the Redis store, run by its SHA and loaded again when Redis lost it (a
 * restart).
 *
 * <p>Thread-safety: safe from any thread (the SHA is volatile; loading twice is harmless).
 */
final class RedisScripts {
    private final byte[] source;
    private volatile String sha;

    RedisScripts(String resource) {
        try (InputStream in = RedisScripts.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " is missing from the build");
            }
            this.source = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    <T> T run(RedisCommands<byte[], byte[]> redis, ScriptOutputType type, byte[][] keys, byte[][] args) {
        String known = sha;
        if (known == null) {
            known = sha = redis.scriptLoad(source);
        }
        try {
            return redis.evalsha(known, type, keys, args);
        } catch (RedisNoScriptException e) {
            sha = redis.scriptLoad(source);
            return redis.evalsha(sha, type, keys, args);
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
