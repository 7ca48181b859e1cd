package dev.tether.http;

import dev.tether.auth.Principal;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.responses.ResponseService;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The namespaces Tether writes itself: {@code responses/…} and {@code conversations/…} (and
 * {@code sessions/…}, for the session layer). On the raw stream API they are read-only for every
 * caller — a forged record could otherwise be continued as a response or injected into a
 * conversation — and, with auth on, readable only by the principal that owns the response or
 * conversation behind them (anyone else gets 404, as on the typed APIs).
 *
 * <p>Stateless and shared by all event loops.
 */
final class InternalStreams {
    private static final String[] PREFIXES = {"responses/", "conversations/", "sessions/"};

    private final ResponseService responses;
    private final boolean checkOwners;

    InternalStreams(ResponseService responses, boolean checkOwners) {
        this.responses = responses;
        this.checkOwners = checkOwners;
    }

    static boolean internal(String path) {
        for (String p : PREFIXES) {
            if (path.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    /** The capability resource of a session log's path ({@code sessions/<id>}), or null for other paths. */
    static String sessionResource(String path) {
        if (!path.startsWith("sessions/")) {
            return null;
        }
        int slash = path.indexOf('/', "sessions/".length());
        return slash < 0 ? path : path.substring(0, slash);
    }

    /** Refuses a write or delete of an internal stream (403 for everyone). */
    static void refuseWrite(String path) {
        if (internal(path)) {
            throw new Refusal(
                    Condition.FORBIDDEN,
                    "read_only_namespace",
                    null,
                    "streams under responses/, conversations/ and sessions/ are written by Tether itself and are"
                            + " read-only here; use /v1/responses, /v1/conversations or /v1/sessions to change them");
        }
    }

    /** Completes when {@code principal} may read {@code path}; fails with 404 when it may not. */
    CompletionStage<Void> checkRead(String path, Principal principal) {
        if (!checkOwners || !internal(path) || sessionResource(path) != null) {
            // sessions are shared: their capabilities (checked by the caller) decide, not an owner
            return CompletableFuture.completedFuture(null);
        }
        String[] parts = path.split("/", 3);
        CompletionStage<String> owner =
                switch (parts[0]) {
                    case "responses" -> responses.ownerOf(parts[1]);
                    case "conversations" -> responses.conversations().ownerOf(parts[1]);
                    default -> CompletableFuture.completedFuture(null);
                };
        return owner.thenAccept(o -> {
            if (!principal.id().equals(o)) {
                throw Refusal.of(Condition.NOT_FOUND, "not_found", "stream " + path + " does not exist");
            }
        });
    }
}
