package dev.tether.http;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameDecoder;
import io.netty.util.ReferenceCountUtil;
import java.util.Map;

/**
 * RFC 6455 §7.4: a peer may close only with 1000-1003, 1007-1014 or 3000-4999, and a close
 * reason is UTF-8. Netty accepts any code from 3000 up and Vert.x echoes whatever came, so this
 * handler, placed right behind the WebSocket frame decoder, answers a bad code with 1002 and a
 * reason that is not UTF-8 with 1007, and closes.
 *
 * <p>Confined to its channel's event loop.
 */
final class CloseFrameGuard extends ChannelInboundHandlerAdapter {
    static final String NAME = "tether-close-guard";

    /** Installs the guard behind the connection's WebSocket decoder, if there is one. */
    static boolean install(ChannelPipeline pipeline) {
        if (pipeline.get(NAME) != null) {
            return true;
        }
        for (Map.Entry<String, ChannelHandler> e : pipeline) {
            if (e.getValue() instanceof WebSocketFrameDecoder) {
                pipeline.addAfter(e.getKey(), NAME, new CloseFrameGuard());
                return true;
            }
        }
        return false;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof CloseWebSocketFrame close && close.content().readableBytes() >= 2) {
            int code = close.content().getUnsignedShort(close.content().readerIndex());
            String refusal = null;
            int status = 0;
            if (!allowed(code)) {
                status = TextSocket.PROTOCOL_ERROR;
                refusal = "close code " + code + " may not be sent by a peer";
            } else if (!utf8(close)) {
                status = TextSocket.INVALID_DATA;
                refusal = "a close reason that is not valid UTF-8";
            }
            if (refusal != null) {
                ReferenceCountUtil.release(msg);
                ctx.channel()
                        .writeAndFlush(new CloseWebSocketFrame(status, refusal))
                        .addListener(ChannelFutureListener.CLOSE);
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    private static boolean allowed(int code) {
        return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
    }

    private static boolean utf8(CloseWebSocketFrame close) {
        return Utf8.valid(close.content()
                .nioBuffer(close.content().readerIndex() + 2, close.content().readableBytes() - 2));
    }
}
