export { TetherClient, type TetherClientOptions, type CreateSessionOptions } from "./client.js";
export { Session, newId, type SendOptions, type FloorAction, type Follower } from "./session.js";
export {
  Subscription,
  NotSent,
  type SubscribeOptions,
  type ConnectionStatus,
  type Transport,
  type WebSocketFactory,
} from "./connection.js";
export { SessionState, isActive, type TimelineItem } from "./state.js";
export { TetherError, type TokenSource } from "./http.js";
export type * from "./entities.js";
