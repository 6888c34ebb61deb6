/** What CanTransport needs from a CAN controller: SLCAN adapter, SocketCAN, or anything else. */

import type { BehaviorSubject } from 'rxjs';
import type { CanFrame } from './can-frame.ts';
import type { LinkState, StatsCounter } from './transport.ts';

export interface CanDriver {
  /** True when the controller runs CAN FD (64-byte frames). */
  readonly fd: boolean;
  readonly state: BehaviorSubject<LinkState>;
  /** Frame-level counters (frames and bytes in/out, errors by reason). */
  readonly counters: StatsCounter;
  /** Why the driver is not up, in words. */
  readonly lastError: string | undefined;
  /** Receives every frame from the bus. */
  onFrame: (frame: CanFrame) => void;
  /**
   * Set by the owner: called when `room()` may have grown (a transmitted frame was acknowledged, the link
   * came up). Drivers without flow control never call it.
   */
  onRoom?: () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Queue one frame; false (counted) when it cannot. */
  send(frame: CanFrame): boolean;
  /**
   * Frames the driver takes now without refusing one, where it can tell (an SLCAN adapter: its transmit
   * window minus the frames not yet acknowledged). Absent: unknown; every frame is offered at once.
   */
  room?(): number;
}
