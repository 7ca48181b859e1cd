package dev.tether.inference.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

class RendezvousTest {
    @Test
    void rankingIsStableFairAndMovesOnlyTheRemovedReplicasKeys() {
        List<URI> replicas = List.of(URI.create("http://a/v1"), URI.create("http://b/v1"), URI.create("http://c/v1"));
        Rendezvous r = new Rendezvous(replicas);
        int[] first = new int[3];
        for (int i = 0; i < 300; i++) {
            String key = "resp_" + i;
            assertEquals(r.rank(key), new Rendezvous(replicas.reversed()).rank(key), "ranking ignores list order");
            first[replicas.indexOf(r.rank(key).get(0))]++;
        }
        for (int n : first) {
            assertEquals(
                    true,
                    n > 60,
                    "each replica is first for a fair share of 300 keys: " + java.util.Arrays.toString(first));
        }
        Rendezvous without = new Rendezvous(List.of(replicas.get(0), replicas.get(1)));
        for (int i = 0; i < 300; i++) {
            String key = "resp_" + i;
            if (!r.rank(key).get(0).equals(replicas.get(2))) {
                assertEquals(r.rank(key).get(0), without.rank(key).get(0), "removing c moves only c's keys");
            }
        }
    }
}
