package dev.tether.store.redis;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.store.Commit;
import dev.tether.store.Mutation;
import dev.tether.store.Precondition;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes a {@link Commit} as the arguments of {@code commit.lua}: the plan (JSON: the node's
 * lease, the preconditions, the mutations) and then the message payloads, which the plan names by
 * argument index so that bytes travel as they are.
 */
final class RedisCommitPlan {
    private RedisCommitPlan() {}

    /** @param fence the lease every commit of this node must hold ({name, token}), or null */
    static byte[][] encode(ObjectMapper json, Commit commit, RedisNodeLease lease, String[] fence) {
        List<byte[]> args = new ArrayList<>();
        args.add(null); // the plan, once the payloads have their indexes
        ObjectNode plan = json.createObjectNode().put("node", lease.token).put("nodeId", lease.nodeId);
        if (fence != null) {
            plan.putObject("fence").put("name", fence[0]).put("token", fence[1]);
        }
        ArrayNode expect = plan.putArray("expect");
        for (Precondition p : commit.expect()) {
            expect.add(precondition(json, p));
        }
        ArrayNode apply = plan.putArray("apply");
        for (Mutation m : commit.apply()) {
            apply.add(mutation(json, m, args));
        }
        try {
            args.set(0, json.writeValueAsBytes(plan));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return args.toArray(byte[][]::new);
    }

    /** A stream record as stored: what a {@link Precondition.StreamIs} compares byte for byte. */
    static String record(ObjectMapper json, StreamRecord r) {
        try {
            return json.writeValueAsString(r);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ObjectNode precondition(ObjectMapper json, Precondition p) {
        return switch (p) {
            case Precondition.StreamIs s ->
                json.createObjectNode()
                        .put("t", "stream")
                        .put("id", Long.toString(s.expected().id()))
                        .put("rec", record(json, s.expected()));
            case Precondition.PathFree f ->
                json.createObjectNode().put("t", "path").put("path", f.path());
            case Precondition.NotRenewedAfter n ->
                json.createObjectNode()
                        .put("t", "renewed")
                        .put("id", Long.toString(n.streamId()))
                        .put("at", n.atMillis());
            case Precondition.ProducerIs q -> {
                ObjectNode o = json.createObjectNode()
                        .put("t", "prod")
                        .put("id", Long.toString(q.streamId()))
                        .put("p", q.producerId());
                if (q.expected() == null) {
                    o.put("v", false);
                } else {
                    o.put("v", q.expected().epoch() + ":" + q.expected().seq());
                }
                yield o;
            }
        };
    }

    private static ObjectNode mutation(ObjectMapper json, Mutation m, List<byte[]> args) {
        ObjectNode o = json.createObjectNode();
        switch (m) {
            case Mutation.PutStream p -> {
                StreamRecord r = p.record();
                o.put("t", "put")
                        .put("id", Long.toString(r.id()))
                        .put("path", r.path())
                        .put("tail", Long.toString(r.tail()));
                o.put("holdsPath", r.lifecycle() != StreamRecord.Lifecycle.DETACHED);
                if (r.forkSourceId() != null) {
                    o.put("src", Long.toString(r.forkSourceId()));
                    o.put("readsSrc", r.readsForkSource());
                }
                o.put("rec", record(json, r));
            }
            case Mutation.AppendMessages a -> {
                o.put("t", "append").put("id", Long.toString(a.streamId()));
                ArrayNode pos = o.putArray("pos");
                ArrayNode data = o.putArray("d");
                for (StoredMessage msg : a.messages()) {
                    pos.add(Long.toString(msg.position()));
                    args.add(msg.data());
                    data.add(args.size()); // ARGV is 1-based: this payload is ARGV[size]
                }
            }
            case Mutation.PutProducer p ->
                o.put("t", "prod")
                        .put("id", Long.toString(p.producer().streamId()))
                        .put("p", p.producer().producerId())
                        .put("v", p.producer().epoch() + ":" + p.producer().seq());
            case Mutation.TrimMessages t ->
                o.put("t", "trim")
                        .put("id", Long.toString(t.streamId()))
                        .put("before", Long.toString(t.beforePosition()));
            case Mutation.DropStream d -> o.put("t", "drop").put("id", Long.toString(d.streamId()));
        }
        return o;
    }
}
