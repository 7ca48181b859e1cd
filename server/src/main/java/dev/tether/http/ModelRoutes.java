package dev.tether.http;

import dev.tether.auth.Operation;
import dev.tether.auth.Principal;
import dev.tether.responses.ModelList;
import dev.tether.responses.ResponseService;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;

/**
 * {@code GET /v1/models} and {@code GET /v1/models/{id}}: what a client may pass as
 * {@code model} (tools that list models before they start, such as the OpenAI SDKs' model
 * pickers). Readable by whoever may create responses.
 *
 * <p>Stateless and shared by all event loops.
 */
final class ModelRoutes {
    static final String PREFIX = "/v1/models";

    private final ModelList models;

    ModelRoutes(ModelList models) {
        this.models = models;
    }

    void handle(HttpServerRequest req, Principal principal) {
        principal.require(ResponseService.RESOURCE, Operation.CREATE);
        String rest = req.path().substring(PREFIX.length());
        if (req.method() != HttpMethod.GET) {
            throw ResponsesRoutes.methodNotAllowed(req.method(), "GET");
        }
        if (rest.isEmpty() || rest.equals("/")) {
            ResponsesRoutes.json(req, models.list(), 200);
        } else {
            ResponsesRoutes.json(req, models.get(rest.substring(1)), 200);
        }
    }
}
