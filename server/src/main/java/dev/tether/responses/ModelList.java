package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelInfo;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * {@code GET /v1/models} and {@code GET /v1/models/{id}} in OpenAI's shapes: the embedded
 * engine's model, or the upstream's list (asked on a virtual thread). An upstream that cannot
 * answer is a 502 naming it, never an empty list that would look like "no models".
 *
 * <p>Thread-safe.
 */
public final class ModelList implements AutoCloseable {
    private final ModelBackend backend;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();

    ModelList(ModelBackend backend) {
        this.backend = backend;
    }

    /** {@code {"object":"list","data":[model...]}}. */
    public CompletionStage<ObjectNode> list() {
        return fetch().thenApply(models -> {
            ObjectNode out = Json.object().put("object", "list");
            ArrayNode data = out.putArray("data");
            models.forEach(m -> data.add(json(m)));
            return out;
        });
    }

    /** One model, or 404 {@code model_not_found}. */
    public CompletionStage<ObjectNode> get(String id) {
        return fetch().thenApply(models -> models.stream()
                .filter(m -> m.id().equals(id))
                .findFirst()
                .map(ModelList::json)
                .orElseThrow(() -> new Refusal(
                        Condition.NOT_FOUND,
                        "model_not_found",
                        "model",
                        "The model '" + id + "' does not exist; GET /v1/models lists the models this server has.")));
    }

    private CompletionStage<List<ModelInfo>> fetch() {
        if (backend == null) {
            return CompletableFuture.completedFuture(List.of());
        }
        return CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return backend.models();
                    } catch (ModelException e) {
                        throw new CompletionException(
                                new Refusal(Condition.UPSTREAM_FAILED, "upstream_error", null, e.getMessage()));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new CompletionException(e);
                    }
                },
                threads);
    }

    private static ObjectNode json(ModelInfo m) {
        return Json.object()
                .put("id", m.id())
                .put("object", "model")
                .put("created", m.created())
                .put("owned_by", m.ownedBy());
    }

    @Override
    public void close() {
        threads.shutdown();
    }
}
