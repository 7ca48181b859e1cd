package dev.tether.inference;

/**
 * A model a backend serves, as {@code GET /v1/models} lists it.
 *
 * @param id      the name clients pass as {@code model}
 * @param ownedBy who serves it ({@code tether} for the embedded engine, the upstream's own value)
 * @param created the upstream's creation time in Unix seconds, or 0 when unknown
 */
public record ModelInfo(String id, String ownedBy, long created) {}
