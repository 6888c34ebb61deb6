/** A control-law Command to and from the fields of an OUTPUT message (analog: elevator; discrete: mode, limited). */
import type { Command, SensorMode } from '../../core/control/spec.ts';

const MODES: readonly SensorMode[] = ['triplex', 'duplex', 'simplex', 'no-sensor'];

export function commandFields(c: Command): { discrete: number[]; analog: number[] } {
  return { discrete: [MODES.indexOf(c.mode), c.commandLimited ? 1 : 0], analog: [c.elevator] };
}

/** Undefined for fields no correct channel would send (counted by the voter host as malformed). */
export function commandFromFields(
  discrete: readonly number[],
  analog: readonly number[],
): Command | undefined {
  if (discrete.length !== 2 || analog.length !== 1) return undefined;
  const mode = MODES[discrete[0]!];
  const limited = discrete[1];
  if (mode === undefined || (limited !== 0 && limited !== 1)) return undefined;
  return { elevator: analog[0]!, mode, commandLimited: limited === 1 };
}
