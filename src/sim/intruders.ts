/**
 * The catalog's intruders (faulty nodes that are not replicas), by name: see intruders/registry.ts. The
 * flooding client of issue 3 predates this list and stays its own option (`floodingClients`, flood.ts).
 */
import './intruders/keyless.ts';
import './intruders/big-mac.ts';

export {
  type Intruder,
  type IntruderContext,
  type IntruderEntry,
  type IntruderOutput,
  type IssuedRequest,
  intruder,
  intruders,
  registerIntruder,
} from './intruders/registry.ts';
