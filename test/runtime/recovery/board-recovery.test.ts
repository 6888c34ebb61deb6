/**
 * A restarted board's own account of its rejoin (BoardRecovery), which its status reports to the coordinator:
 * rejoining from the moment the process exists, not only once prepare() has put the roles in their rejoining
 * state. A soak under load once counted a board back from a status sent before prepare (the config's fresh
 * channel looked rebuilt), restarted the next board while the first one's channel still waited for its state,
 * and ended with no channel holding a state to rebuild any other from.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WireFleet } from './wire-fleet.ts';

let fleet: WireFleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

describe('a restarted board reports its roles rejoining', () => {
  it('from before prepare() until its replica executed past the point and its channel rebuilt', async () => {
    fleet = await WireFleet.create({ seed: 31, net: {} });
    await fleet.start();
    fleet.runFrames(25);
    const { board, open } = await fleet.restartLoaded('b2');
    expect(board.recovery.unprepared).toBe(true);
    expect(board.recovery.channelRebuilding).toBe(true);
    expect(board.recovery.rejoined()).toEqual({ replica: false, channel: false });
    await open();
    expect(board.recovery.unprepared).toBe(false);
    expect(board.recovery.channelRebuilding).toBe(true);
    // The channel is not rebuilt from its peers' states while its replica still catches up (it could jump
    // again by state transfer): with the recovery point 60 batches ahead, the replica stays recovering for a
    // second of frames while the peers' states are there to take. It takes the state of each checkpoint its
    // replica restores instead (certified by 2f+1 replicas), so however often the replica jumps, the channel's
    // state lacks no batch, and the board is counted back only once the replica is past the point.
    const ahead = fleet.get('b1').board.replica!.replica.status().lastExecuted + 60;
    board.recovery.recoveryPoint(ahead);
    let rejoinedWhileRecovering = false;
    for (let i = 0; i < 125; i++) {
      fleet.runFrames(1);
      if (board.recovery.rejoined().replica && board.board.replica!.replica.status().recovering)
        rejoinedWhileRecovering = true;
    }
    expect(rejoinedWhileRecovering).toBe(false);
    expect(board.counters.get('channel.certified-state')).toBeGreaterThan(0);
    expect(board.counters.get('channel.gap')).toBe(0);
    expect(board.recovery.channelRebuilding, fleet.holdsReport()).toBe(false);
    expect(board.recovery.rejoined(), fleet.holdsReport()).toEqual({ replica: true, channel: true });
    // A first start is no restart: nothing to rejoin, before or after prepare().
    expect(fleet.get('b1').recovery.unprepared).toBe(false);
    expect(fleet.get('b1').recovery.channelRebuilding).toBe(false);
  });

  it('a raised recovery point rebuilds the channel again with the fresh replica, so it misses no batch', async () => {
    fleet = await WireFleet.create({ seed: 32, net: {} });
    await fleet.start();
    fleet.runFrames(25);
    const board = await fleet.restart('b2');
    fleet.runFrames(100);
    expect(board.recovery.rejoined(), fleet.holdsReport()).toEqual({ replica: true, channel: true });
    // The coordinator's point arrives late (a loaded host): the replica is installed afresh with it.
    const executed = fleet.get('b1').board.replica!.replica.status().lastExecuted;
    board.recovery.recoveryPoint(executed + 2);
    expect(board.recovery.channelRebuilding).toBe(true);
    fleet.runFrames(150);
    expect(board.recovery.rejoined(), fleet.holdsReport()).toEqual({ replica: true, channel: true });
    expect(board.counters.get('channel.gap')).toBe(0);
    expect(board.counters.get('recovery.point-raised')).toBe(1);
    expect(fleet.holds(150).length, fleet.holdsReport(150)).toBe(0);
  });
});
