package dev.tether.fuzz;

import java.util.List;

/**
 * What a campaign creates before fuzzing, so mutated requests hit real streams, a real stored
 * response and a real conversation instead of only 404s.
 *
 * @param prefix         the stream path prefix of this campaign ({@code fz-<seed>-<nonce>})
 * @param streams        fixture streams of each content type
 * @param responseId     a stored, finished response (or a made-up id when none could be created)
 * @param conversationId a conversation with one item (or a made-up id)
 * @param itemId         that item's id
 */
record Fixtures(String prefix, List<Stream> streams, String responseId, String conversationId, String itemId) {
    /**
     * Ids no server issues on its own, shared by all areas: streams cases may write the records
     * behind them (forged), Responses and Conversations cases then read or continue them.
     */
    static final String PLANTED_RESPONSE = "resp_" + "f".repeat(48);

    static final String PLANTED_CONVERSATION = "conv_" + "f".repeat(48);

    Fixtures {
        streams = List.copyOf(streams);
    }

    /** A fixture stream; {@code tail} is its {@code Stream-Next-Offset} after set-up. */
    record Stream(String path, String contentType, String tail, boolean closed) {
        boolean json() {
            return contentType.startsWith("application/json");
        }
    }
}
