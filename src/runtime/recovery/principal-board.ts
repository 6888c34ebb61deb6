/**
 * Which board hosts a principal (its MAC and signature identity): where a NEW-KEY's answer goes, and which key
 * files a board loads. From the topology only, never from the link a message came in on.
 *
 * @example
 * boardOfPrincipal(topology, principalOf.channel(1)); // 'b1'
 */
import type { Topology } from '../config.ts';
import { CHANNEL_BASE, INPUT_BASE, VOTER_BASE } from '../loop/principals.ts';
import { inputUnitBoard } from '../wire-input.ts';

export function boardOfPrincipal(t: Topology, principal: number): string | undefined {
  if (!Number.isInteger(principal) || principal < 0) return undefined;
  if (principal < INPUT_BASE) return t.replicas.find((r) => r.id === principal)?.board;
  if (principal < CHANNEL_BASE) {
    const unit = principal - INPUT_BASE;
    return unit < t.inputUnits ? inputUnitBoard(t, unit) : undefined;
  }
  if (principal < VOTER_BASE) return t.channels.find((c) => c.id === principal - CHANNEL_BASE)?.board;
  return t.voters.find((v) => v.id === principal - VOTER_BASE)?.board;
}
