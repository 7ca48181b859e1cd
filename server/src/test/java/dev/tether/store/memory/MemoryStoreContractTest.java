package dev.tether.store.memory;

import dev.tether.store.StreamStore;
import dev.tether.store.StreamStoreContract;

/** The conditional-commit contract on the memory store. */
class MemoryStoreContractTest extends StreamStoreContract {
    @Override
    protected StreamStore open() {
        return new MemoryStreamStore();
    }
}
