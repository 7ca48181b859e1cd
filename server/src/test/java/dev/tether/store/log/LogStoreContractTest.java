package dev.tether.store.log;

import dev.tether.store.StreamStore;
import dev.tether.store.StreamStoreContract;

/** The conditional-commit contract on the log store. */
class LogStoreContractTest extends StreamStoreContract {
    @Override
    protected StreamStore open() throws Exception {
        return LogStreamStore.open(dir);
    }
}
