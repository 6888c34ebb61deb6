/**
 * The largest message each kind of board link is configured to carry: a leaf module, so that the config check
 * (config-links.ts), the transports (node/transports.ts) and the benchmarks agree on one number without the
 * config importing the transports.
 *
 * @example
 * new SerialTransport({ ..., maxMessage: LINK_MAX_MESSAGE });
 */
import { CAN_MAX_MESSAGE_LIMIT } from '../core/codec/framing/can-segment.ts';

/** Largest protocol message a serial board link carries (a NEW-VIEW or state-transfer reply is the big one). */
export const LINK_MAX_MESSAGE = 256 * 1024;

/** Largest message a CAN board link carries: the segmentation header's limit. */
export const CAN_LINK_MAX_MESSAGE = CAN_MAX_MESSAGE_LIMIT;
