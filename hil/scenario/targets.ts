/**
 * What a fault's `target` may name, per component, and how it resolves when the fault strikes (`primary` and
 * `backup` follow the view at that moment).
 *
 * - channel, voter-link: a channel id (0..m-1);
 * - replica: a replica id, `primary`, or `backup` (the highest-numbered replica that is not the primary);
 * - input-unit: a unit index; sensor: 0, 1 or 2;
 * - board: a board name, `primary` or `backup` (the board hosting that replica), never the rig's own board;
 * - link: `a-b`, two board names (names may contain dashes; the split that names two boards is used);
 * - voter: none, or 0 (the voter on the rig's board).
 */
import type { Topology } from '../../src/runtime/config.ts';
import type { Component } from '../grid.ts';

/** The board that runs the rig: the voter's (it also hosts the input units). */
export function rigBoardOf(t: Topology): string {
  return t.voters[0]!.board;
}

/** Splits `a-b` into two board names of `t`, or undefined. */
export function linkEnds(t: Topology, target: string): [string, string] | undefined {
  const names = new Set(t.boards.map((b) => b.name));
  for (let i = target.indexOf('-'); i > 0; i = target.indexOf('-', i + 1)) {
    const a = target.slice(0, i);
    const b = target.slice(i + 1);
    if (names.has(a) && names.has(b) && a !== b) return [a, b];
  }
  return undefined;
}

/** Whether boards a and b are joined by a link of the topology. */
export function linked(t: Topology, a: string, b: string): boolean {
  return t.links.some((l) => l.type !== 'serial' || (l.between.includes(a) && l.between.includes(b)));
}

const isRole = (x: unknown): x is 'primary' | 'backup' => x === 'primary' || x === 'backup';

/** Why `target` cannot be a target of `component` in `t`, or undefined when it can. */
export function checkTarget(
  component: Component,
  target: number | string | undefined,
  t: Topology,
): string | undefined {
  const count = (what: string, n: number): string | undefined => {
    if (typeof target !== 'number')
      return `${component} faults need a ${what} number as target (0..${n - 1})`;
    return target < n ? undefined : `no ${what} ${target} (have ${n})`;
  };
  switch (component) {
    case 'channel':
    case 'voter-link':
      return count('channel', t.channels.length);
    case 'input-unit':
      return count('input unit', t.inputUnits);
    case 'sensor':
      return count('sensor', 3);
    case 'replica':
      if (isRole(target)) return undefined;
      return count('replica', t.replicas.length);
    case 'board': {
      if (isRole(target)) return undefined;
      if (typeof target !== 'string') return 'board faults need a board name, primary or backup as target';
      if (!t.boards.some((b) => b.name === target)) {
        return `no board '${target}' (have ${t.boards.map((b) => b.name).join(', ')})`;
      }
      if (target === rigBoardOf(t)) {
        return `'${target}' hosts the voter and the rig: the voter is the last line, not a fault the system tolerates`;
      }
      return undefined;
    }
    case 'voter':
      return target === undefined || target === 0
        ? undefined
        : `voter faults take no target, or 0 (one voter, on board ${rigBoardOf(t)})`;
    case 'link': {
      if (typeof target !== 'string') return 'link faults need a target naming two boards: a-b';
      const ends = linkEnds(t, target);
      if (ends === undefined)
        return `'${target}' does not name two boards as a-b (boards: ${t.boards.map((b) => b.name).join(', ')})`;
      return linked(t, ...ends) ? undefined : `no link joins ${ends[0]} and ${ends[1]} in ${t.file}`;
    }
  }
}

/** A target resolved at the moment the fault strikes. */
export type Resolved =
  | { readonly component: 'channel' | 'voter-link'; readonly channel: number; readonly board: string }
  | { readonly component: 'replica'; readonly replica: number; readonly board: string }
  | { readonly component: 'input-unit'; readonly unit: number }
  | { readonly component: 'sensor'; readonly sensor: number }
  | { readonly component: 'board'; readonly board: string }
  | { readonly component: 'link'; readonly ends: readonly [string, string] }
  | { readonly component: 'voter'; readonly voter: number; readonly board: string };

/** Resolves a checked target; `primary` is the primary of the current view. */
export function resolveTarget(
  component: Component,
  target: number | string | undefined,
  t: Topology,
  primary: number,
): Resolved {
  const replicaOf = (x: number | string | undefined): number => {
    if (x === 'primary') return primary;
    if (x === 'backup') return t.replicas.filter((r) => r.id !== primary).at(-1)!.id;
    return x as number;
  };
  switch (component) {
    case 'channel':
    case 'voter-link': {
      const channel = target as number;
      return { component, channel, board: t.channels[channel]!.board };
    }
    case 'replica': {
      const replica = replicaOf(target);
      return { component, replica, board: t.replicas[replica]!.board };
    }
    case 'input-unit':
      return { component, unit: target as number };
    case 'sensor':
      return { component, sensor: target as number };
    case 'board':
      return {
        component,
        board: typeof target === 'string' && !isRole(target) ? target : t.replicas[replicaOf(target)]!.board,
      };
    case 'link':
      return { component, ends: linkEnds(t, target as string)! };
    case 'voter':
      return { component, voter: 0, board: rigBoardOf(t) };
  }
}

/** How a resolved target reads in events and reports. */
export function describeTarget(r: Resolved): string {
  switch (r.component) {
    case 'channel':
      return `channel c${r.channel} (board ${r.board})`;
    case 'voter-link':
      return `voter link of c${r.channel} (from board ${r.board})`;
    case 'replica':
      return `replica r${r.replica} (board ${r.board})`;
    case 'input-unit':
      return `input unit ${r.unit}`;
    case 'sensor':
      return `sensor ${r.sensor}`;
    case 'board':
      return `board ${r.board}`;
    case 'link':
      return `link ${r.ends[0]}-${r.ends[1]}`;
    case 'voter':
      return `voter v${r.voter} (board ${r.board})`;
  }
}
