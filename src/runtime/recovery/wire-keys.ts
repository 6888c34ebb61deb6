/**
 * Session keys that rotate at every start of a board process, with NEW-KEY on the wire (process mode and bench
 * boards). The laptop's RotatingKeys holds every principal in one process; here a board holds only its own.
 *
 * Each principal hosted here has a key epoch: 0 is the static X25519 pair of its key file (the boot keys every
 * peer derives from public.json); every later start of the process moves it to the persisted epoch + 1 with a
 * fresh X25519 pair drawn from the OS (written to `stateDir` before the NEW-KEY goes out, so a crash cannot make
 * it reuse an epoch). The pairwise MAC key of (a, b) is the key file's at epochs (0, 0), else HKDF over
 * X25519 at both ends' current epochs (src/core/recovery/session.ts): both ends derive it without talking.
 *
 * A restarted board broadcasts a NEW-KEY per principal (signed with its long-term ed25519 identity key) a few
 * times; each peer checks it (acceptNewKey: epoch rule, signature, public key), rekeys its rings for that
 * principal in place, and answers once with its own NEW-KEYs (the restarted board only knows the key files'
 * epoch-0 keys of its peers). From then on a message under the old keys fails its MAC ('bad-mac', counted).
 *
 * Refused and counted (`keys.new-key.refused.<reason>`): bytes over the NEW-KEY size (before any decoding); a
 * NEW-KEY for a principal hosted on this board (only this process announces those); an unknown principal; one
 * that arrived from a board other than the principal's ('wrong-source', before its signature is checked: a
 * faulty board relaying or forging another's NEW-KEYs would otherwise spend that board's signature checks and
 * get its real NEW-KEY after a restart refused as rate-limited, so that it never rejoined); an epoch at or below
 * the accepted one (a replay: 'duplicate' if it is the very message accepted); more than DEFAULT_MAX_EPOCH_AHEAD
 * ahead of the epoch held; more signature checks for one principal than MAX_VERIFIES_PER_SECOND (a flood of
 * forged ones costs bounded CPU); a bad signature; a low-order public key.
 *
 * What a principal holds of its peers (epoch and public key) is persisted beside its own epoch
 * (`held-<name>.json`, 0600, replaced atomically), so a restart forgets nothing: the jump bound always applies
 * (a faulty node cannot sign its last epoch at a receiver that has just restarted and so lock its own later,
 * correct incarnation out), and the restarted board MACs under its peers' current keys at once.
 *
 * A faulty incarnation can still push what receivers hold of it up, a bounded jump per signature check. Its
 * recovered incarnation starts at its own persisted epoch + 1, which they refuse as stale; each answers with an
 * EPOCH-REPORT (the epoch it holds, tagged under a key derived from the two key files, which no restart loses).
 * The recovered node moves above the highest report within DEFAULT_MAX_EPOCH_AHEAD of what f+1 boards report
 * (`jumpForReports`, core credibleEpoch): a faulty reporter can make it skip at most that many epochs, a bounded
 * number of times per start.
 *
 * @example
 * const keys = await WireKeys.load({ topology, board: 'b1', keysDir, stateDir, counters, now });
 * router.send(peerBoard, keys.announcements()[0]!);   // after a restart
 * const r = keys.receive(bytes, fromBoard);            // a NEW-KEY off the wire, from the link's peer
 * if (r.answer) for (const m of keys.announcements()) router.send(r.answer, m);
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authPayload, decodeMessage, encodeMessage } from '../../core/codec/encode.ts';
import type { EpochReport, NewKey } from '../../core/codec/messages.ts';
import { epochReportKey, pairwiseKey } from '../../core/crypto/hkdf.ts';
import { KeyRing } from '../../core/crypto/keyring.ts';
import { type KeyedMac, keyedMac, macTag, macVerify } from '../../core/crypto/mac.ts';
import { SigningKey, x25519Agree } from '../../core/crypto/sign.ts';
import { createNewKey, MAX_KEY_EPOCH } from '../../core/recovery/new-key.ts';
import {
  acceptNewKey,
  credibleEpoch,
  DEFAULT_MAX_EPOCH_AHEAD,
  type LocalKeys,
  type PeerKeyState,
  sessionKeys,
} from '../../core/recovery/session.ts';
import type { Topology } from '../config.ts';
import {
  loadPrivateKey,
  loadPublicKeys,
  type PrivateKey,
  PUBLIC_FILE_NAME,
  type PublicDirectory,
  privateKeyPath,
} from '../keyfiles.ts';
import { peerTagLengths } from '../link-tags.ts';
import type { Counters } from '../loop/counters.ts';
import { type BoardKeys, topologyPrincipals } from '../loop/keys.ts';
import { principalOf } from '../loop/principals.ts';
import { boardOfPrincipal } from './principal-board.ts';

/** Largest encoded NEW-KEY: version, kind, three varints (u16, u32, safe integer), key and signature. */
export const MAX_NEW_KEY_BYTES = 2 + 3 + 5 + 8 + 32 + 64;
/** Signature checks per claimed principal per second (a correct node announces a handful per restart). */
export const MAX_VERIFIES_PER_SECOND = 8;
/** Times this board answers a repeated (duplicate) NEW-KEY of one principal epoch (bounded ping-pong). */
const MAX_DUPLICATE_ANSWERS = 2;
/** Largest encoded EPOCH-REPORT: version, kind, three varints (u16, u16, u32), a key, a 16-byte tag and its length. */
export const MAX_EPOCH_REPORT_BYTES = 2 + 3 + 3 + 5 + 32 + 1 + 16;
/** EPOCH-REPORTs tag length: rare messages, full-strength tags. */
export const REPORT_TAG_BYTES = 16;
/** EPOCH-REPORTs one board sends about one subject per second (the subject announces a handful of times). */
export const MAX_REPORTS_PER_SECOND = 4;
/** Jumps for reports one hosted principal makes per start (or rotation in this process). */
export const MAX_REPORT_JUMPS = 2;

export interface WireKeysOptions {
  readonly topology: Topology;
  readonly board: string;
  readonly keysDir: string;
  /**
   * Where the key epochs are persisted (epoch-<name>, mode 0600). Absent: no rotation (epoch 0 at every start,
   * the key files' keys), as a bench board without a writable state directory runs.
   */
  readonly stateDir?: string;
  readonly counters: Counters;
  /** Milliseconds, for the rate limit of signature checks. */
  readonly now: () => number;
  /** The recovery point announced (the restarted replica's estimate; 0 when unknown). */
  readonly recoveryPoint?: number;
}

type Held = PeerKeyState;

export interface NewKeyOutcome {
  readonly accepted: boolean;
  readonly reason?: string;
  /** Board to send this board's own NEW-KEYs to (the announcer does not know our current keys yet). */
  readonly answer?: string;
  /** A stale NEW-KEY: the EPOCH-REPORTs to send back to the announcer's board (`to`). */
  readonly reports?: { readonly to: string; readonly messages: readonly Uint8Array[] };
}

export type EpochReportOutcome =
  | { readonly accepted: true; readonly subject: number }
  | { readonly accepted: false; readonly reason: string };

/**
 * A recovery message off the wire, of `kind`, or why not: too long (before any decoding), malformed (the codec's
 * reason), or another kind ('not-new-key', 'not-epoch-report').
 */
function wireMessage<K extends 'new-key' | 'epoch-report'>(
  bytes: Uint8Array,
  maxBytes: number,
  kind: K,
): (K extends 'new-key' ? NewKey : EpochReport) | string {
  if (bytes.length > maxBytes) return 'too-long';
  const decoded = decodeMessage(bytes);
  if (!decoded.ok) return `malformed.${decoded.reason}`;
  if (decoded.message.kind !== kind) return `not-${kind}`;
  return decoded.message as K extends 'new-key' ? NewKey : EpochReport;
}

/**
 * At most `limit` events per key in each one-second window (fixed windows: a correct node's handful of NEW-KEYs
 * or reports fits with room, a flood is cut). The keys are principals the caller has checked exist, so the map is
 * bounded by the topology.
 */
class PerSecondLimit {
  private readonly windows = new Map<number, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number,
  ) {}

  /** Whether one more event for `key` fits this second; when it does, it is counted. */
  take(key: number): boolean {
    const now = this.now();
    const w = this.windows.get(key);
    if (w === undefined || now - w.start >= 1000) {
      this.windows.set(key, { start: now, count: 1 });
      return true;
    }
    if (w.count >= this.limit) return false;
    w.count++;
    return true;
  }
}

export class WireKeys implements BoardKeys {
  readonly replicaPublicKeys: ReadonlyMap<number, Uint8Array>;
  private readonly local = new Map<number, LocalKeys>();
  private readonly announced = new Map<number, Uint8Array>();
  /** held.get(self).get(peer): what hosted principal `self` holds of `peer`. */
  private readonly held = new Map<number, Map<number, Held>>();
  private readonly rings = new Map<number, GraceRing>();
  private readonly verifies: PerSecondLimit;
  private readonly duplicateAnswers = new Map<string, number>();
  /** reports.get(subject).get(reporter principal): what the reporter says it holds of hosted `subject`. */
  private readonly reports = new Map<number, Map<number, { epoch: number; publicKey: Uint8Array }>>();
  private readonly reportMacs = new Map<string, KeyedMac>();
  private readonly reportsSent: PerSecondLimit;
  private readonly reportJumps = new Map<number, number>();
  private readonly recoveryPoints = new Map<number, number>();
  /** onRekey listeners by hosted principal. */
  private readonly rekeyListeners = new Map<number, ((peer: number) => void)[]>();

  private constructor(
    private readonly o: WireKeysOptions,
    private readonly publics: PublicDirectory,
    private readonly selves: ReadonlyMap<number, PrivateKey>,
  ) {
    const t = o.topology;
    this.verifies = new PerSecondLimit(MAX_VERIFIES_PER_SECOND, o.now);
    this.reportsSent = new PerSecondLimit(MAX_REPORTS_PER_SECOND, o.now);
    this.replicaPublicKeys = new Map(
      t.replicas.map((r) => [r.id, this.identityOf(principalOf.replica(r.id))!] as const),
    );
    for (const [id, self] of selves) {
      this.local.set(id, this.startEpoch(self));
      this.reportJumps.set(id, MAX_REPORT_JUMPS);
    }
    for (const [id, self] of selves) {
      const persisted = o.stateDir === undefined ? new Map() : readHeld(o.stateDir, self.name, publics);
      const held = new Map<number, Held>();
      for (const p of publics.principals) {
        const mine = this.local.get(p.id);
        held.set(
          p.id,
          mine !== undefined
            ? { epoch: mine.epoch, publicKey: mine.publicKey, recoveryPoint: 0 }
            : (persisted.get(p.id) ?? { epoch: 0, publicKey: p.x25519Public, recoveryPoint: 0 }),
        );
      }
      this.held.set(id, held);
    }
    for (const id of selves.keys()) this.rings.set(id, this.buildRing(id));
  }

  /** Loads the key files of `board`'s principals (keyfiles.ts checks modes and names) and starts its epochs. */
  static async load(o: WireKeysOptions): Promise<WireKeys> {
    const publics = await loadPublicKeys(join(o.keysDir, PUBLIC_FILE_NAME));
    const selves = new Map<number, PrivateKey>();
    for (const p of topologyPrincipals(o.topology)) {
      if (boardOfPrincipal(o.topology, p.id) !== o.board) continue;
      const self = await loadPrivateKey(privateKeyPath(o.keysDir, p.name));
      if (self.id !== p.id) throw new Error(`${self.file}: holds id ${self.id}, ${p.name} is id ${p.id}`);
      selves.set(p.id, self);
    }
    return new WireKeys(o, publics, selves);
  }

  ring(principal: number): GraceRing {
    const ring = this.rings.get(principal);
    if (ring === undefined) throw new Error(`board '${this.o.board}' does not host principal ${principal}`);
    return ring;
  }

  rawKey(self: number, peer: number): Uint8Array {
    const l = this.local.get(self);
    const p = this.held.get(self)?.get(peer);
    if (l === undefined || p === undefined) throw new Error(`no key of ${self} with ${peer}`);
    return this.pairKey(l, peer, p);
  }

  heartbeatKey(voter: number): Uint8Array | undefined {
    return this.selves.get(principalOf.voter(voter))?.heartbeatKey;
  }

  signer(replica: number): SigningKey {
    const self = this.selves.get(principalOf.replica(replica));
    if (self === undefined) throw new Error(`board '${this.o.board}' does not host replica ${replica}`);
    return SigningKey.fromSeed(self.ed25519Seed);
  }

  /**
   * `listener(peer)` each time hosted principal `self`'s pairwise key with `peer` changed (a NEW-KEY accepted,
   * or `peer` rotated in this process), after its ring holds the new key and `rawKey(self, peer)` gives it: a
   * holder of keys outside the rings (a firmware voter) switches at the same moment (BoardKeys.onRekey).
   */
  onRekey(self: number, listener: (peer: number) => void): void {
    const list = this.rekeyListeners.get(self) ?? [];
    list.push(listener);
    this.rekeyListeners.set(self, list);
  }

  private rekeyed(self: number, peer: number): void {
    for (const listener of this.rekeyListeners.get(self) ?? []) listener(peer);
  }

  /** The key epoch of a hosted principal. */
  epoch(principal: number): number {
    return this.local.get(principal)?.epoch ?? 0;
  }

  /** Per hosted principal its epoch, and per peer the lowest epoch any hosted principal holds of it. */
  epochs(): { own: Record<number, number>; held: Record<number, number> } {
    const own: Record<number, number> = {};
    for (const [id, l] of this.local) own[id] = l.epoch;
    const held: Record<number, number> = {};
    for (const [self, map] of this.held) {
      for (const [peer, h] of map) {
        if (peer === self || this.local.has(peer)) continue;
        held[peer] = Math.min(held[peer] ?? Number.MAX_SAFE_INTEGER, h.epoch);
      }
    }
    return { own, held };
  }

  /** The encoded NEW-KEYs of this board's principals past epoch 0 (what a restarted board broadcasts). */
  announcements(): Uint8Array[] {
    return [...this.announced.values()];
  }

  /**
   * A hosted principal restarted in this process (the rig's voter or input units): a fresh epoch and pair, its
   * ring rekeyed for every peer, the co-hosted principals' rings rekeyed for it. Returns its NEW-KEY to
   * broadcast; undefined when epochs are not persisted here (no rotation).
   */
  rotate(principal: number, recoveryPoint = 0, graceMs = 0): Uint8Array | undefined {
    const rotated = this.rotateTo(principal, this.epoch(principal) + 1, recoveryPoint, graceMs);
    if (rotated !== undefined) this.reportJumps.set(principal, MAX_REPORT_JUMPS);
    return rotated;
  }

  private rotateTo(
    principal: number,
    epoch: number,
    recoveryPoint: number,
    graceMs: number,
  ): Uint8Array | undefined {
    const self = this.selves.get(principal);
    if (self === undefined || this.o.stateDir === undefined) return undefined;
    if (graceMs > 0) this.ring(principal).keepUntil(this.buildRing(principal), this.o.now() + graceMs);
    const fresh = this.freshEpoch(self, epoch, recoveryPoint);
    this.local.set(principal, fresh);
    this.recoveryPoints.set(principal, recoveryPoint);
    for (const [other, map] of this.held) {
      map.set(principal, { epoch: fresh.epoch, publicKey: fresh.publicKey, recoveryPoint: 0 });
      if (other !== principal) {
        this.ring(other).rekey(principal, this.rawKey(other, principal));
        this.ring(other).replaced(principal);
        this.rekeyed(other, principal);
      }
    }
    const ring = this.ring(principal);
    for (const peer of this.held.get(principal)!.keys()) {
      ring.rekey(peer, this.rawKey(principal, peer));
      this.rekeyed(principal, peer);
    }
    return this.announced.get(principal);
  }

  /**
   * A NEW-KEY off the wire: checked, and on acceptance every hosted principal's ring rekeyed for its sender.
   * `fromBoard`: the board the link says it came from (absent: not known, no source check).
   */
  receive(bytes: Uint8Array, fromBoard?: string): NewKeyOutcome {
    const m = wireMessage(bytes, MAX_NEW_KEY_BYTES, 'new-key');
    if (typeof m === 'string') return this.refuse(m);
    if (this.local.has(m.node)) return this.refuse('own-principal');
    const board = boardOfPrincipal(this.o.topology, m.node);
    const identity = this.identityOf(m.node);
    if (board === undefined || identity === undefined) return this.refuse('unknown-node');
    if (fromBoard !== undefined && fromBoard !== board) return this.refuse('wrong-source');
    let accepted = false;
    let duplicate = false;
    let verified = false;
    const stale: number[] = [];
    for (const [self, map] of this.held) {
      const current = map.get(m.node);
      if (current !== undefined && m.epoch > current.epoch && !verified) {
        // Only a check that would reach the signature is rate limited.
        if (!this.verifies.take(m.node)) return this.refuse('rate-limited');
        verified = true;
      }
      const verdict = acceptNewKey({
        self: this.local.get(self)!,
        current,
        message: m,
        identityPublicKey: identity,
        // What is held survives restarts (held-<name>.json): the bound applies to every jump, the first too.
        maxEpochAhead: DEFAULT_MAX_EPOCH_AHEAD,
      });
      if (!verdict.ok) {
        if (verdict.reason === 'duplicate') duplicate = true;
        else if (verdict.reason === 'stale-epoch') stale.push(self);
        else return this.refuse(verdict.reason);
        continue;
      }
      map.set(m.node, verdict.state);
      this.persistHeld(self);
      this.ring(self).rekey(m.node, verdict.keys.pair);
      this.ring(self).replaced(m.node);
      this.rekeyed(self, m.node);
      accepted = true;
    }
    if (stale.length > 0) this.o.counters.add('keys.new-key.refused.stale-epoch');
    const reports = stale.length > 0 ? this.reportsFor(stale, m.node, board) : undefined;
    if (accepted) {
      this.o.counters.add('keys.new-key.accepted');
      return { accepted, ...(this.announced.size > 0 ? { answer: board } : {}), ...(reports ?? {}) };
    }
    if (stale.length > 0) return { accepted: false, reason: 'stale-epoch', ...(reports ?? {}) };
    if (duplicate) {
      this.o.counters.add('keys.new-key.duplicate');
      // The announcer repeats itself when it missed our answer: answer a repeat a bounded number of times.
      const key = `${m.node}/${m.epoch}`;
      const n = this.duplicateAnswers.get(key) ?? 0;
      if (n >= MAX_DUPLICATE_ANSWERS || this.announced.size === 0) return { accepted: false };
      if (this.duplicateAnswers.size > 4096) this.duplicateAnswers.clear();
      this.duplicateAnswers.set(key, n + 1);
      return { accepted: false, answer: board };
    }
    return { accepted: false };
  }

  private refuse(reason: string): NewKeyOutcome {
    this.o.counters.add(`keys.new-key.refused.${reason}`);
    return { accepted: false, reason };
  }

  /**
   * An EPOCH-REPORT off the wire, about one of this board's principals: checked (size, shape, a subject hosted
   * here, a reporter on `fromBoard`, its tag) and recorded. Refusals are counted as
   * `keys.epoch-report.refused.<reason>`; it never throws. `jumpForReports` then decides.
   */
  receiveReport(bytes: Uint8Array, fromBoard?: string): EpochReportOutcome {
    const m = wireMessage(bytes, MAX_EPOCH_REPORT_BYTES, 'epoch-report');
    if (typeof m === 'string') return this.refuseReport(m);
    if (!this.local.has(m.subject)) return this.refuseReport('not-hosted');
    if (this.local.has(m.node)) return this.refuseReport('own-principal');
    const board = boardOfPrincipal(this.o.topology, m.node);
    if (board === undefined || this.identityOf(m.node) === undefined)
      return this.refuseReport('unknown-node');
    if (fromBoard !== undefined && fromBoard !== board) return this.refuseReport('wrong-source');
    if (m.epoch > MAX_KEY_EPOCH) return this.refuseReport('bad-epoch');
    const data = authPayload(m);
    if (!macVerify(this.reportMac(m.subject, m.node), data, m.tag, REPORT_TAG_BYTES))
      return this.refuseReport('bad-tag');
    const byReporter = this.reports.get(m.subject) ?? new Map();
    const before = byReporter.get(m.node);
    if (before === undefined || m.epoch >= before.epoch)
      byReporter.set(m.node, { epoch: m.epoch, publicKey: m.publicKey });
    this.reports.set(m.subject, byReporter);
    this.o.counters.add('keys.epoch-report.accepted');
    return { accepted: true, subject: m.subject };
  }

  /**
   * After EPOCH-REPORTs about hosted `subject`: a report blocks it when the reporter holds a later epoch than
   * its current one, or the current epoch under another key (one its faulty incarnation signed). If the
   * credible epoch of the blocking reports (core credibleEpoch, one per board, its highest) is at or above the
   * current one, it moves one above, with a fresh pair, and returns the NEW-KEY to broadcast. At most
   * MAX_REPORT_JUMPS times per start or rotation, so a faulty reporter cannot keep it rotating. Undefined when
   * nothing needs to move (a report of its own current key: a replay of an old NEW-KEY was refused).
   */
  jumpForReports(subject: number, graceMs = 0): Uint8Array | undefined {
    const byReporter = this.reports.get(subject);
    const left = this.reportJumps.get(subject) ?? 0;
    if (byReporter === undefined || left <= 0) return undefined;
    const current = this.epoch(subject);
    const mine = this.local.get(subject)!.publicKey;
    const perBoard = new Map<string, number>();
    for (const [reporter, held] of byReporter) {
      const blocks = held.epoch > current || (held.epoch === current && !bytesEqual(held.publicKey, mine));
      if (!blocks) continue;
      const board = boardOfPrincipal(this.o.topology, reporter)!;
      perBoard.set(board, Math.max(perBoard.get(board) ?? 0, held.epoch));
    }
    // The floor: the current epoch, which the boards that did not report hold (they accepted it).
    const credible = credibleEpoch(
      [...perBoard.values()],
      this.o.topology.f,
      DEFAULT_MAX_EPOCH_AHEAD,
      current,
    );
    if (credible === undefined || credible < current) return undefined;
    if (credible + 1 > MAX_KEY_EPOCH) {
      this.o.counters.add('keys.epoch-report.exhausted');
      return undefined;
    }
    this.reportJumps.set(subject, left - 1);
    this.o.counters.add('keys.epoch-report.jumped');
    return this.rotateTo(subject, credible + 1, this.recoveryPoints.get(subject) ?? 0, graceMs);
  }

  private refuseReport(reason: string): EpochReportOutcome {
    this.o.counters.add(`keys.epoch-report.refused.${reason}`);
    return { accepted: false, reason };
  }

  /** The EPOCH-REPORTs hosted principals `selves` send `subject`'s board (rate limited per subject). */
  private reportsFor(
    selves: readonly number[],
    subject: number,
    board: string,
  ): { reports: { to: string; messages: Uint8Array[] } } | undefined {
    if (!this.reportsSent.take(subject)) {
      this.o.counters.add('keys.epoch-report.rate-limited');
      return undefined;
    }
    const messages = selves.map((self) => {
      const { epoch, publicKey } = this.held.get(self)!.get(subject)!;
      const unsigned: EpochReport = {
        kind: 'epoch-report',
        node: self,
        subject,
        epoch,
        publicKey,
        tag: new Uint8Array(0),
      };
      const tag = macTag(this.reportMac(self, subject), authPayload(unsigned), REPORT_TAG_BYTES);
      return encodeMessage({ ...unsigned, tag });
    });
    this.o.counters.add('keys.epoch-report.sent', messages.length);
    return { reports: { to: board, messages } };
  }

  /** The MAC of EPOCH-REPORTs between hosted `self` and `peer`: from their key files, so no restart loses it. */
  private reportMac(self: number, peer: number): KeyedMac {
    const key = `${self}/${peer}`;
    const cached = this.reportMacs.get(key);
    if (cached !== undefined) return cached;
    const own = [...this.selves.values()].find((s) => s.id === self)!;
    const theirs = this.publics.principals.find((p) => p.id === peer)!;
    const agreed = x25519Agree(own.x25519Private, theirs.x25519Public);
    if (!agreed.ok) throw new Error(`key file of principal ${peer}: ${agreed.reason}`); // checked at load
    const mac = keyedMac(epochReportKey(agreed.sharedSecret, self, peer), this.o.topology.crypto.macBackend);
    this.reportMacs.set(key, mac);
    return mac;
  }

  /** What hosted `self` holds of the peers on other boards, to `held-<name>.json` (atomically, 0600). */
  private persistHeld(self: number): void {
    const dir = this.o.stateDir;
    if (dir === undefined) return;
    const peers = [...this.held.get(self)!]
      .filter(([peer]) => !this.local.has(peer))
      .map(([id, h]) => ({ id, epoch: h.epoch, publicKey: Buffer.from(h.publicKey).toString('hex') }));
    const name = this.selves.get(self)!.name;
    const file = join(dir, `held-${name}.json`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp`, `${JSON.stringify({ version: 1, peers })}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  private identityOf(principal: number): Uint8Array | undefined {
    return this.publics.principals.find((p) => p.id === principal)?.ed25519Public;
  }

  /** This start's epoch of a hosted principal: 0 without persistence or on the first start, else persisted + 1. */
  private startEpoch(self: PrivateKey): LocalKeys {
    const dir = this.o.stateDir;
    const boot = { id: self.id, epoch: 0, privateKey: self.x25519Private, publicKey: self.x25519Public };
    if (dir === undefined) return boot;
    const persisted = readEpoch(join(dir, `epoch-${self.name}`));
    if (persisted === undefined) {
      writeEpoch(dir, self.name, 0);
      return boot;
    }
    return this.freshEpoch(self, persisted + 1, this.o.recoveryPoint ?? 0);
  }

  /** A fresh pair at `epoch`, persisted first, and its signed NEW-KEY. */
  private freshEpoch(self: PrivateKey, epoch: number, recoveryPoint: number): LocalKeys {
    if (epoch > MAX_KEY_EPOCH) throw new Error(`${self.name}: key epoch space exhausted`);
    writeEpoch(this.o.stateDir!, self.name, epoch);
    const { message, keyPair } = createNewKey({
      node: self.id,
      epoch,
      recoveryPoint: Math.max(0, Math.floor(recoveryPoint)),
      x25519Seed: new Uint8Array(randomBytes(32)),
      identity: SigningKey.fromSeed(self.ed25519Seed),
    });
    const wire: NewKey = { kind: 'new-key', ...message };
    this.announced.set(self.id, encodeMessage(wire));
    return { id: self.id, epoch, privateKey: keyPair.privateKey, publicKey: keyPair.publicKey };
  }

  private pairKey(self: LocalKeys, peer: number, held: PeerKeyState): Uint8Array {
    if (self.epoch === 0 && held.epoch === 0) {
      const agreed = x25519Agree(self.privateKey, held.publicKey);
      if (!agreed.ok) throw new Error(`key file of principal ${peer}: ${agreed.reason}`);
      return pairwiseKey(agreed.sharedSecret, self.id, peer, 0);
    }
    const k = sessionKeys(self, { id: peer, epoch: held.epoch, publicKey: held.publicKey });
    if (!k.ok) throw new Error(`session key ${self.id}-${peer}: ${k.reason}`); // keys we accepted: a bug
    return k.keys.pair;
  }

  private buildRing(self: number): GraceRing {
    const l = this.local.get(self)!;
    const keys = [...this.held.get(self)!].map(([peer, h]) => [peer, this.pairKey(l, peer, h)] as const);
    return new GraceRing(
      {
        self,
        keys,
        tagLength: this.o.topology.crypto.tagBytes,
        backend: this.o.topology.crypto.macBackend,
        peerTagLengths: peerTagLengths(this.o.topology, self),
      },
      this.o.now,
      this.o.counters,
    );
  }
}

/**
 * A ring that, for a bounded grace after its principal rotated in this process, also takes tags under the keys
 * it had before: the voter's make-before-break restart. Its peers switch to its new keys when its NEW-KEY
 * reaches them, a link latency later; without the grace the frame whose outputs are in flight then would be
 * lost, and the voter is the one role no other can stand in for. Only verification falls back; tags are made
 * under the new keys at once, and after the grace the old keys are forgotten; a peer's old key is forgotten
 * earlier, as soon as that peer moves to new keys (`replaced`).
 */
export class GraceRing extends KeyRing {
  private previous: { ring: KeyRing; until: number } | undefined;

  constructor(
    options: ConstructorParameters<typeof KeyRing>[0],
    private readonly now: () => number,
    private readonly counters: Counters,
  ) {
    super(options);
  }

  keepUntil(previous: KeyRing, until: number): void {
    this.previous = { ring: previous, until };
  }

  /**
   * `peer` moved to new keys (its NEW-KEY accepted, or it rotated in this process): the grace no longer takes
   * its old key. Only its replaced incarnation still holds that key, and the grace is for this ring's own
   * rotation, not the peer's.
   */
  replaced(peer: number): void {
    this.previous?.ring.forget(peer);
  }

  override verify(from: number, data: Uint8Array, tag: Uint8Array): boolean {
    if (super.verify(from, data, tag)) return true;
    const p = this.previous;
    if (p === undefined) return false;
    if (this.now() > p.until) {
      this.previous = undefined;
      return false;
    }
    const ok = p.ring.verify(from, data, tag);
    if (ok) this.counters.add('keys.grace-verified');
    return ok;
  }
}

function readEpoch(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_KEY_EPOCH)
    throw new Error(`${file}: not a key epoch (${JSON.stringify(text.slice(0, 20))})`);
  return n;
}

/**
 * What principal `name` held of its peers when it last accepted a NEW-KEY (`held-<name>.json`); empty when the
 * file does not exist (a first start). Throws naming the file and the field on anything else: a board must not
 * start on keys it cannot vouch for.
 */
function readHeld(dir: string, name: string, publics: PublicDirectory): Map<number, Held> {
  const file = join(dir, `held-${name}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new Error(`${file}: cannot be read (${(e as Error).message})`);
  }
  const fail = (field: string, what: string): never => {
    throw new Error(`${file}: ${field}: ${what}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail('(file)', `not JSON (${(e as Error).message})`);
  }
  const d = doc as { version?: unknown; peers?: unknown };
  if (typeof doc !== 'object' || doc === null) return fail('(file)', 'not an object');
  if (d.version !== 1) fail('version', `expected 1, got ${JSON.stringify(d.version)}`);
  if (!Array.isArray(d.peers)) return fail('peers', 'not an array');
  const out = new Map<number, Held>();
  d.peers.forEach((entry: unknown, i: number) => {
    const e = (entry ?? {}) as { id?: unknown; epoch?: unknown; publicKey?: unknown };
    const at = `peers[${i}]`;
    const known = publics.principals.find((p) => p.id === e.id);
    if (known === undefined) fail(`${at}.id`, `not a principal of public.json (${JSON.stringify(e.id)})`);
    if (
      typeof e.epoch !== 'number' ||
      !Number.isSafeInteger(e.epoch) ||
      e.epoch < 0 ||
      e.epoch > MAX_KEY_EPOCH
    )
      fail(`${at}.epoch`, `not a key epoch (${JSON.stringify(e.epoch)})`);
    if (typeof e.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(e.publicKey))
      fail(`${at}.publicKey`, 'not 32 bytes of lower-case hex');
    const epoch = e.epoch as number;
    const publicKey = Uint8Array.from(Buffer.from(e.publicKey as string, 'hex'));
    // Epoch 0 is the key file's pair: a file that says otherwise was not written by this code.
    if (epoch === 0 && !Buffer.from(publicKey).equals(Buffer.from(known!.x25519Public)))
      fail(`${at}.publicKey`, "epoch 0 but not the key file's public key");
    out.set(known!.id, { epoch, publicKey, recoveryPoint: 0 });
  });
  return out;
}

function writeEpoch(dir: string, name: string, epoch: number): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, `epoch-${name}`), `${epoch}\n`, { mode: 0o600 });
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}
