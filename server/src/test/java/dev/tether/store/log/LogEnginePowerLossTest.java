package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.tether.store.StoredMessage;
import dev.tether.stream.AppendRequest;
import dev.tether.stream.AppendResult;
import dev.tether.stream.CreateRequest;
import dev.tether.stream.CreateResult;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine on the log store through a simulated power loss: the moment the last append is
 * acknowledged, every byte no fdatasync covered is dropped; every acknowledged append must still
 * be there. (With the flush removed, or an acknowledgement sent before it, this fails.)
 */
class LogEnginePowerLossTest {
    @TempDir
    Path dir;

    @Test
    void everyAppendTheEngineAcknowledgedSurvivesAPowerLoss() throws Exception {
        LogStreamStore store = LogStreamStore.open(dir, 4096);
        StreamEngine engine = new StreamEngine(store, InstantSource.system(), EngineSettings.defaults());
        try {
            long id = assertInstanceOf(
                            CreateResult.Created.class,
                            engine.create(new CreateRequest("s", "text/plain", null, null, false, List.of(), null))
                                    .toCompletableFuture()
                                    .get(10, TimeUnit.SECONDS))
                    .stream()
                    .id();
            List<CompletableFuture<AppendResult>> acks = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                acks.add(engine.append(new AppendRequest(
                                "s",
                                "text/plain",
                                List.of(("m" + i + ";").getBytes(StandardCharsets.UTF_8)),
                                false,
                                null,
                                null))
                        .toCompletableFuture());
            }
            Set<Long> acknowledged = new HashSet<>();
            for (CompletableFuture<AppendResult> a : acks) {
                AppendResult.Appended ok = assertInstanceOf(AppendResult.Appended.class, a.get(10, TimeUnit.SECONDS));
                acknowledged.add(ok.stream().tail());
            }
            store.dropUnsynced(); // the power goes out right after the last acknowledgement
            engine.close(); // and the process with it: it holds the log no longer (closing flushes nothing)

            try (LogStreamStore after = LogStreamStore.open(dir, 4096)) {
                long end = 0;
                for (StoredMessage m : after.read(id, 0, Long.MAX_VALUE, Integer.MAX_VALUE)) {
                    end = m.end();
                }
                long lastAcked =
                        acknowledged.stream().mapToLong(Long::longValue).max().orElseThrow();
                assertEquals(lastAcked, end, "the log after the power loss reaches the last acknowledged append");
            }
        } finally {
            engine.close();
        }
    }
}
