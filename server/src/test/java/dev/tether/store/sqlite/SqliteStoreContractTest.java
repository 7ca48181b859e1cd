package dev.tether.store.sqlite;

import dev.tether.store.StreamStore;
import dev.tether.store.StreamStoreContract;

/** The conditional-commit contract on the SQLite store, on real files. */
class SqliteStoreContractTest extends StreamStoreContract {
    @Override
    protected StreamStore open() throws Exception {
        return SqliteStreamStore.open(dir, null);
    }
}
