package dev.tether.responses;

import dev.tether.errors.Refusal;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Resolves what a new response continues — a connection's own recent response, a running or
 * cached one, one loaded from the store with its whole chain, or a conversation — and loads stored
 * responses, ending those the process died in the middle of. Only the owner of a response can
 * continue it; to anyone else it does not exist.
 *
 * <p>Thread-safe: the maps it reads are concurrent, the cache synchronized.
 */
final class Continuations {
    private final ResponseLog log;
    private final ResponseCache cache;
    private final Conversations conversations;
    private final Map<String, ResponseRun> live;

    Continuations(ResponseLog log, ResponseCache cache, Conversations conversations, Map<String, ResponseRun> live) {
        this.log = log;
        this.cache = cache;
        this.conversations = conversations;
        this.live = live;
    }

    /**
     * What a new response continues: a chain and its root, maybe a conversation. {@code stored}
     * is false when the parent itself was {@code store:false} (a WebSocket continuation): then
     * nothing derived from the chain may reach disk, whatever the new request says.
     */
    record Parent(Chain chain, String root, Conversation conversation, boolean stored) {
        Parent(Chain chain, String root, Conversation conversation) {
            this(chain, root, conversation, true);
        }
    }

    CompletionStage<Parent> parent(ResponseParams p, ResponseService.LocalChains local, String owner) {
        String prev = p.previousResponseId();
        if (prev != null) {
            ResponseRecord mine = local == null ? null : local.find(prev);
            if (mine != null) {
                return CompletableFuture.completedFuture(new Parent(
                        mine.after(), mine.rootId(), null, mine.params().store()));
            }
            ResponseRun running = live.get(prev);
            if (running != null && running.params().store() && running.owner().equals(owner)) {
                ResponseRecord finished = running.finished();
                if (finished == null) {
                    throw Refusal.invalid(
                            "previous_response_id",
                            "Previous response '" + prev
                                    + "' is still in progress; continue it once it has completed.");
                }
                if (finished.params().conversationId() == null) {
                    return CompletableFuture.completedFuture(continuable(finished));
                }
            }
            return chainOf(prev, owner).thenApply(Continuations::continuable);
        }
        if (p.conversationId() != null) {
            return conversations
                    .get(p.conversationId(), owner)
                    .thenApply(c -> new Parent(Chain.EMPTY.append(c.items()), c.id(), c));
        }
        return CompletableFuture.completedFuture(new Parent(Chain.EMPTY, null, null));
    }

    /** A parent a new response may continue: not a conversation's turn, not a failed response. */
    private static Parent continuable(ResponseRecord r) {
        if (r.params().conversationId() != null) {
            throw Refusal.invalid(
                    "previous_response_id",
                    "Response '" + r.id() + "' belongs to conversation "
                            + r.params().conversationId() + "; continue it with conversation: '"
                            + r.params().conversationId() + "' instead.");
        }
        if (r.status() == ResponseStatus.FAILED) {
            throw Refusal.invalid(
                    "previous_response_id",
                    "Previous response '" + r.id() + "' failed ("
                            + r.error().path("code").asText()
                            + "); continue from the response before it, or retry it without previous_response_id.");
        }
        return new Parent(r.after(), r.rootId(), null);
    }

    /** A stored response of {@code owner} with its whole chain resolved, for continuation. */
    private CompletionStage<ResponseRecord> chainOf(String id, String owner) {
        ResponseRecord cached = cached(id);
        if (cached != null) {
            return cached.ownedBy(owner)
                    ? CompletableFuture.completedFuture(cached)
                    : CompletableFuture.failedFuture(ResponseService.previousNotFound(id));
        }
        if (!Ids.wellFormed(id, "resp_")) {
            return CompletableFuture.failedFuture(ResponseService.previousNotFound(id));
        }
        return loadFinished(id).thenCompose(loaded -> {
            if (loaded == null || !loaded.record().ownedBy(owner)) {
                throw ResponseService.previousNotFound(id);
            }
            ResponseRecord r = loaded.record();
            if (loaded.previousId() == null) {
                cache.put(r);
                return CompletableFuture.completedFuture(r);
            }
            return chainOf(loaded.previousId(), owner).handle((parent, e) -> {
                if (e != null) {
                    throw Refusal.invalid(
                            "previous_response_id",
                            "previous_response_not_found",
                            "Previous response with id '"
                                    + id + "' cannot be continued: an earlier response of its chain, '"
                                    + loaded.previousId()
                                    + "', was deleted or has expired.");
                }
                ResponseRecord full = r.withBefore(parent.after());
                cache.put(full);
                return full;
            });
        });
    }

    /** A cached response whose streams still exist (they may have expired or been deleted). */
    ResponseRecord cached(String id) {
        ResponseRecord r = cache.get(id);
        if (r != null && !log.exists(id)) {
            cache.remove(id);
            return null;
        }
        return r;
    }

    /** Loads from the store, ending a response the process died in the middle of. */
    CompletionStage<ResponseLog.Loaded> loadFinished(String id) {
        return log.load(id).thenCompose(loaded -> {
            if (loaded == null || loaded.finished() || live.containsKey(id)) {
                return CompletableFuture.completedFuture(loaded);
            }
            return log.markInterrupted(loaded)
                    .thenApply(failed ->
                            new ResponseLog.Loaded(failed, loaded.previousId(), true, loaded.eventCount() + 1));
        });
    }
}
