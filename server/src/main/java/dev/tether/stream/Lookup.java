package dev.tether.stream;

import dev.tether.store.StreamRecord;

/** A metadata lookup that does not renew the TTL (HEAD). */
public sealed interface Lookup permits Lookup.Found, Rejection {
    record Found(StreamRecord stream) implements Lookup {}
}
