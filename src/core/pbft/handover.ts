/**
 * Planned view change (proactive recovery, DESIGN.md): before the primary's board restarts on the recovery
 * schedule, the primary hands its view over so that ordering does not wait out a view-change timeout.
 *
 * The primary leaves its view with a signed VIEW-CHANGE for view + 1, carrying its prepared certificates like
 * any other. A backup that is active in view v and receives the (valid, signed) VIEW-CHANGE of v's primary for
 * v + 1 joins at once, without waiting for f+1 such votes: the primary of a view is the one replica whose
 * leaving stops the view anyway (a faulty primary can always stall its view), so following its abdication
 * costs a correct replica nothing it could not lose already, and the new primary gets its quorum of
 * VIEW-CHANGEs after one message delay instead of after a request timeout. Only the primary of the current
 * view, only for the next view, only while active: a faulty backup cannot use it to move anyone.
 *
 * @example
 * const actions = replica.handOver(); // primary: VIEW-CHANGE(v+1) multicast; backups follow at once
 */
import { type PbftConfig, primaryOf } from './config.ts';

/** Whether a (verified) VIEW-CHANGE is the abdication of our current view's primary, to be followed at once. */
export function isHandover(
  s: { readonly view: number; readonly active: boolean },
  config: PbftConfig,
  vc: { readonly newView: number; readonly replica: number },
): boolean {
  return s.active && vc.newView === s.view + 1 && vc.replica === primaryOf(config, s.view);
}
