package dev.tether.inference.upstream;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Rendezvous (highest-random-weight) hashing: every key ranks all replicas, the same way on
 * every node, and removing a replica only moves the keys that ranked it first. A chain's root
 * id is the key, so all turns of a chain reach the same replica and its prefix cache.
 *
 * <p>Immutable and thread-safe.
 */
final class Rendezvous {
    private final List<URI> replicas;

    Rendezvous(List<URI> replicas) {
        if (replicas.isEmpty()) {
            throw new IllegalArgumentException("no replicas");
        }
        this.replicas = List.copyOf(replicas);
    }

    /** The replicas in preference order for {@code key}: first choice first. */
    List<URI> rank(String key) {
        List<URI> ranked = new ArrayList<>(replicas);
        ranked.sort(Comparator.comparingLong((URI r) -> score(key, r)).reversed());
        return ranked;
    }

    private static long score(String key, URI replica) {
        return mix(fnv1a(key) ^ Long.rotateLeft(fnv1a(replica.toString()), 31));
    }

    private static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** SplitMix64 finalizer: spreads FNV's weak low bits over the whole word. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
