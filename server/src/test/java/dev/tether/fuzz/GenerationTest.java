package dev.tether.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Cases are reproducible from their name alone, so a failure printed by a run can be replayed. */
class GenerationTest {
    private static final Target TARGET = new Target("127.0.0.1", 4437, null, 500, false, false);
    private static final Fixtures FIXTURES = new Fixtures(
            "fz-1-abc",
            List.of(
                    new Fixtures.Stream("fz-1-abc/text", "text/plain", "0000000000000000_0000000000000006", false),
                    new Fixtures.Stream(
                            "fz-1-abc/json", "application/json", "0000000000000000_0000000000000014", false),
                    new Fixtures.Stream(
                            "fz-1-abc/bin", "application/octet-stream", "0000000000000000_0000000000000003", false),
                    new Fixtures.Stream("fz-1-abc/closed", "text/plain", "0000000000000000_0000000000000003", true)),
            "resp_x",
            "conv_x",
            "msg_x");

    private static byte[] wire(FuzzCase c) {
        return switch (c) {
            case FuzzCase.Http h -> RawHttp.request(h, TARGET.hostHeader(), null);
            case FuzzCase.Raw r -> r.bytes();
            case FuzzCase.Socket s ->
                WsFrames.concat(s.steps().stream().map(FuzzCase.WsStep::bytes).toArray(byte[][]::new));
        };
    }

    @Test
    void theSameSeedAreaAndIndexGenerateTheSameBytes() {
        for (Area area : Area.values()) {
            for (int i = 0; i < 200; i++) {
                CaseId id = new CaseId(7, area, i);
                FuzzCase a = Campaign.generate(id, TARGET, FIXTURES);
                FuzzCase b = Campaign.generate(id, TARGET, FIXTURES);
                assertEquals(a.kind(), b.kind(), "kind of " + id);
                assertArrayEquals(wire(a), wire(b), "bytes of " + id + " must not depend on anything but its name");
            }
        }
    }

    @Test
    void differentIndexesGenerateDifferentCases() {
        for (Area area : Area.values()) {
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < 200; i++) {
                seen.add(new String(
                        wire(Campaign.generate(new CaseId(7, area, i), TARGET, FIXTURES)),
                        java.nio.charset.StandardCharsets.ISO_8859_1));
            }
            assertTrue(seen.size() > 100, area + ": 200 indexes gave only " + seen.size() + " distinct cases");
        }
    }
}
