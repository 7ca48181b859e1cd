package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.StoreException;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamDocs;
import dev.tether.stream.StreamEngine;
import dev.tether.testing.MemoryStoreWrapper;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Finding 4: a conversation changed its memory before its append was durable, so a failed append
 * left items in memory that a restart would lose. Now a change shows only once it is stored.
 */
class ConversationDurabilityTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A memory store whose commits fail while {@link #refusing} is set (a full or broken disk). */
    private static final class FlakyStore extends MemoryStoreWrapper {
        volatile boolean refusing;

        @Override
        public CommitResult commit(Commit commit) throws StoreException {
            if (refusing) {
                throw new StoreException("disk full (test)", null, true);
            }
            return super.commit(commit);
        }
    }

    @Test
    void anItemWhoseAppendFailedIsNotInTheConversation() throws Exception {
        FlakyStore store = new FlakyStore();
        try (StreamEngine engine = new StreamEngine(store, InstantSource.system(), EngineSettings.defaults())) {
            Conversations conversations =
                    new Conversations(new StreamDocs(engine, null), InstantSource.system(), 16, null);
            Conversation c = conversations
                    .create(JSON.readTree("{}"), "alice")
                    .toCompletableFuture()
                    .get(5, TimeUnit.SECONDS);
            store.refusing = true;
            ExecutionException refused = assertThrows(ExecutionException.class, () -> conversations
                    .addItems(c, JSON.readTree("{\"items\":[{\"role\":\"user\",\"content\":\"lost\"}]}"))
                    .toCompletableFuture()
                    .get(5, TimeUnit.SECONDS));
            assertEquals("disk full (test)", rootMessage(refused).replace("storage unavailable: ", ""));
            assertEquals(
                    0,
                    conversations
                            .get(c.id(), "alice")
                            .toCompletableFuture()
                            .get(5, TimeUnit.SECONDS)
                            .items()
                            .size(),
                    "the refused item is not in memory either");
            store.refusing = false;
            conversations
                    .addItems(c, JSON.readTree("{\"items\":[{\"role\":\"user\",\"content\":\"kept\"}]}"))
                    .toCompletableFuture()
                    .get(5, TimeUnit.SECONDS);
            List<com.fasterxml.jackson.databind.node.ObjectNode> items = conversations
                    .get(c.id(), "alice")
                    .toCompletableFuture()
                    .get(5, TimeUnit.SECONDS)
                    .items();
            assertEquals(1, items.size());
            assertEquals(
                    "kept", items.get(0).path("content").path(0).path("text").asText());
        }
    }

    @Test
    void theCacheOfConversationsIsBoundedAndAnEvictedOneIsReadBack() throws Exception {
        try (StreamEngine engine =
                new StreamEngine(new MemoryStreamStore(), InstantSource.system(), EngineSettings.defaults())) {
            Conversations conversations =
                    new Conversations(new StreamDocs(engine, null), InstantSource.system(), 3, null);
            List<String> ids = new java.util.ArrayList<>();
            for (int i = 0; i < 10; i++) {
                ids.add(conversations
                        .create(JSON.readTree("{\"metadata\":{\"n\":\"" + i + "\"}}"), "alice")
                        .toCompletableFuture()
                        .get(5, TimeUnit.SECONDS)
                        .id());
            }
            assertEquals(3, conversations.cached(), "at most three kept in memory");
            Conversation first =
                    conversations.get(ids.get(0), "alice").toCompletableFuture().get(5, TimeUnit.SECONDS);
            assertEquals("0", first.toJson().path("metadata").path("n").asText(), "an evicted one is read back");
            assertEquals(3, conversations.cached());
        }
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null) {
            c = c.getCause();
        }
        return String.valueOf(c.getMessage());
    }
}
