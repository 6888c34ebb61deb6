/** Link framing: CRC-32C, COBS serial frames, CAN segmentation and reassembly. Pure; the transports in src/io use it. */
export * from './can-reassembly.ts';
export * from './can-segment.ts';
export * from './cobs.ts';
export * from './crc.ts';
export * from './serial-frame.ts';
