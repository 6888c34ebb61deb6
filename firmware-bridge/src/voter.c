#include "voter.h"

/* A broken invariant is a bug in the unit, not bad input: stop, and let the watchdog reset the board. */
#define FW_INVARIANT(cond)                      \
  do {                                          \
    if (!(cond)) fw_invariant_failed(__LINE__); \
  } while (0)

void fw_invariant_failed(int line);

/* Largest counter value carried (health.ts COUNTER_MAX: every counter stays an exact integer). */
#define COUNTER_MAX 9007199254740991ull

static uint64_t bump(uint64_t x) { return x < COUNTER_MAX ? x + 1u : COUNTER_MAX; }

typedef enum { AGREE_TOLERANCE = 0, AGREE_EARLY_BAND = 1 } agree_rule;

/* select.ts Round: voters, reference, supporters, writable, judgeable, reason. */
typedef struct {
  fw_channel_list voters;
  uint8_t has_reference;
  fw_command reference;
  fw_channel_list supporters;
  uint8_t writable;
  uint8_t judgeable;
  uint8_t reason;
} round_result;

uint64_t fw_voter_next_frame(const fw_voter *v) { return v->next_frame; }

double fw_voter_deadline_of(const fw_voter *v, uint64_t frame) {
  /* (origin + frame * period) + deadline, as voter.ts deadlineOf. */
  return v->cfg.origin + (double)frame * v->cfg.period + v->cfg.deadline;
}

static int finite(double x) { return x - x == 0.0; }

int fw_voter_config_check(const fw_voter_config *c) {
  if (c->m < 1u || c->m > FW_MAX_CHANNELS) return 1;
  if ((unsigned)c->m < 2u * (unsigned)c->f + 1u) return 2;
  if (c->strike_threshold < 1u || c->strike_threshold > 255u || c->strike_decay_frames < 1u ||
      c->probation_frames < 1u || c->failsafe_after_misses < 1u || c->strike_decay_frames > COUNTER_MAX ||
      c->probation_frames > COUNTER_MAX || c->failsafe_after_misses > COUNTER_MAX)
    return 3;
  if (c->max_frames_ahead > FW_MAX_AHEAD) return 4;
  if (c->receipt_window < 1u || c->receipt_window > FW_MAX_RECEIPT_WINDOW) return 4;
  if (c->analog_n > FW_MAX_ANALOG || c->discrete_n > FW_MAX_DISCRETE) return 5;
  if (c->analog_n + c->discrete_n == 0u) return 6;
  if (c->first_frame > COUNTER_MAX) return 6;
  for (unsigned i = 0; i < c->analog_n; i++) {
    const double t = c->tolerance[i];
    if (!(t >= 0.0) || !finite(t)) return 7;
    if (c->has_early_band[i] && !(c->early_band[i] >= 0.0 && c->early_band[i] <= t)) return 7;
    if (!finite(c->failsafe.analog[i]) || !finite(c->initial.analog[i])) return 8;
  }
  if (!(c->period > 0.0) || !finite(c->origin) || !(c->deadline >= 0.0) || !finite(c->deadline)) return 9;
  return 0;
}

static void clear_slot(fw_slot *s) {
  s->used = 0;
  s->reported = 0;
  s->written = 0;
  s->fixed = 0;
  for (unsigned i = 0; i < FW_MAX_CHANNELS; i++) s->has[i] = 0;
}

void fw_voter_init(fw_voter *v, const fw_voter_config *cfg, fw_judgment_sink sink, void *sink_context) {
  v->cfg = *cfg;
  v->receipt_size = (uint32_t)cfg->receipt_window + cfg->max_frames_ahead + 1u;
  for (unsigned i = 0; i < FW_MAX_CHANNELS; i++) {
    fw_channel_state *s = &v->ch[i];
    s->strikes = 0;
    s->agree_streak = 0;
    s->latched = 0;
    s->probation = 0;
    s->latch_count = 0;
    s->in_time = 0;
    s->late = 0;
    s->silent_frames = 0;
    s->consecutive_silent = 0;
    for (unsigned k = 0; k < FW_RECEIPTS; k++) v->receipts[i][k] = FW_NO_FRAME;
  }
  for (unsigned i = 0; i < FW_SLOTS; i++) clear_slot(&v->slots[i]);
  v->next_frame = cfg->first_frame;
  v->last_written = cfg->initial;
  v->consecutive_misses = 0;
  for (unsigned i = 0; i < 3u; i++) v->decisions[i] = 0;
  for (unsigned i = 0; i < 6u; i++) v->rejections[i] = 0;
  v->sink = sink;
  v->sink_context = sink_context;
}

/* ---- select.ts ---------------------------------------------------------------------------------------- */

double fw_mid_value(const double *values, uint8_t n) {
  double sorted[FW_MAX_CHANNELS];
  FW_INVARIANT(n >= 1u && n <= FW_MAX_CHANNELS);
  /* Stable insertion sort on a > b: the order Array.prototype.sort gives with (a, b) => a - b for finite
   * values (a - b is zero exactly when a == b; +0 and -0 keep their order, and every mix of them gives +0). */
  for (uint8_t i = 0; i < n; i++) {
    const double x = values[i];
    uint8_t j = i;
    while (j > 0u && sorted[j - 1u] > x) {
      sorted[j] = sorted[j - 1u];
      j--;
    }
    sorted[j] = x;
  }
  const double hi = sorted[n >> 1];
  const double lo = sorted[(n - 1u) >> 1];
  return lo + (hi - lo) / 2.0;
}

int fw_majority(const uint8_t *values, uint8_t n, uint8_t quorum, uint8_t *winner) {
  uint8_t distinct[FW_MAX_CHANNELS];
  uint8_t counts[FW_MAX_CHANNELS];
  uint8_t k = 0;
  FW_INVARIANT(n <= FW_MAX_CHANNELS);
  for (uint8_t i = 0; i < n; i++) {
    uint8_t j = 0;
    while (j < k && distinct[j] != values[i]) j++;
    if (j == k) {
      distinct[k] = values[i];
      counts[k] = 0;
      k++;
    }
    counts[j]++;
  }
  /* First value with the most votes in first-seen order; a tie for the most is no majority. */
  uint8_t best = 0, best_count = 0, tie = 0;
  for (uint8_t j = 0; j < k; j++) {
    if (counts[j] > best_count) {
      best = distinct[j];
      best_count = counts[j];
      tie = 0;
    } else if (counts[j] == best_count) {
      tie = 1;
    }
  }
  if (best_count >= quorum && !tie) {
    *winner = best;
    return 1;
  }
  return 0;
}

static double abs_diff(double a, double b) {
  const double d = a - b;
  return d < 0.0 ? -d : d; /* Math.abs: -0 stays -0, which compares as 0 */
}

/* withinTolerance / withinEarlyBand of select.ts. */
static int agrees(const fw_voter_config *c, const fw_command *a, const fw_command *b, agree_rule rule) {
  for (unsigned i = 0; i < c->analog_n; i++) {
    if (rule == AGREE_EARLY_BAND && !c->has_early_band[i]) return 0;
    const double bound = rule == AGREE_EARLY_BAND ? c->early_band[i] : c->tolerance[i];
    if (!(abs_diff(a->analog[i], b->analog[i]) <= bound)) return 0;
  }
  for (unsigned i = 0; i < c->discrete_n; i++) {
    if (a->discrete[i] != b->discrete[i]) return 0;
  }
  return 1;
}

static uint8_t latched_count(const fw_voter *v) {
  uint8_t n = 0;
  for (uint8_t i = 0; i < v->cfg.m; i++) n = (uint8_t)(n + v->ch[i].latched);
  return n;
}

/* voteRound over a slot, quorum f + 1. */
static void vote_round(const fw_voter *v, const fw_slot *s, agree_rule rule, round_result *r) {
  const fw_voter_config *c = &v->cfg;
  const unsigned quorum = (unsigned)c->f + 1u;
  r->voters.n = 0;
  r->supporters.n = 0;
  r->has_reference = 0;
  for (uint8_t i = 0; i < c->m; i++) {
    if (!v->ch[i].latched && s->has[i]) r->voters.ch[r->voters.n++] = i;
  }
  if (r->voters.n > 0u) {
    r->has_reference = 1;
    for (unsigned fi = 0; fi < c->analog_n; fi++) {
      double values[FW_MAX_CHANNELS];
      for (uint8_t k = 0; k < r->voters.n; k++) values[k] = s->cmd[r->voters.ch[k]].analog[fi];
      r->reference.analog[fi] = fw_mid_value(values, r->voters.n);
    }
    for (unsigned fi = 0; fi < c->discrete_n && r->has_reference; fi++) {
      uint8_t values[FW_MAX_CHANNELS];
      for (uint8_t k = 0; k < r->voters.n; k++) values[k] = s->cmd[r->voters.ch[k]].discrete[fi];
      if (!fw_majority(values, r->voters.n, 1, &r->reference.discrete[fi])) r->has_reference = 0;
    }
  }
  if (r->has_reference) {
    for (uint8_t k = 0; k < r->voters.n; k++) {
      const uint8_t i = r->voters.ch[k];
      if (agrees(c, &s->cmd[i], &r->reference, rule)) r->supporters.ch[r->supporters.n++] = i;
    }
  }
  r->writable = (uint8_t)(r->has_reference && r->supporters.n >= quorum);
  const unsigned latched = latched_count(v);
  const unsigned faulty_left = c->f > latched ? c->f - latched : 0u;
  r->judgeable = (uint8_t)(r->writable && r->voters.n >= 2u * faulty_left + 1u);
  r->reason = r->writable ? FW_REASON_MAJORITY : r->voters.n < quorum ? FW_REASON_TOO_FEW : FW_REASON_NO_MAJORITY;
}

/* ---- health.ts ---------------------------------------------------------------------------------------- */

static void push_event(fw_events *ev, uint8_t kind, uint8_t ch, uint64_t frame, uint8_t strikes) {
  FW_INVARIANT(ev->n < FW_MAX_EVENTS);
  fw_event *e = &ev->e[ev->n++];
  e->kind = kind;
  e->channel = ch;
  e->frame = frame;
  e->strikes = strikes;
}

/* HealthBook.judge, then the events voter.ts judgeOne records; returns 1 when channel i agrees. */
static int judge_one(fw_voter *v, uint8_t i, uint64_t frame, const fw_command *cmd, const fw_command *reference,
                     fw_events *ev) {
  fw_channel_state *s = &v->ch[i];
  const fw_voter_config *c = &v->cfg;
  if (agrees(c, cmd, reference, AGREE_TOLERANCE)) {
    s->agree_streak = bump(s->agree_streak);
    const uint32_t strikes = (s->agree_streak % c->strike_decay_frames == 0u && s->strikes > 0u) ? s->strikes - 1u
                                                                                                   : s->strikes;
    if (s->latched) {
      const uint64_t probation = s->probation + 1u;
      if (probation >= c->probation_frames) {
        s->latched = 0;
        s->strikes = 0;
        s->probation = 0;
        push_event(ev, FW_EV_REINTEGRATED, i, frame, 0);
        return 1;
      }
      s->probation = probation;
    }
    s->strikes = strikes;
    return 1;
  }
  const uint32_t strikes = s->strikes + 1u < c->strike_threshold ? s->strikes + 1u : c->strike_threshold;
  const int latch_now = !s->latched && strikes >= c->strike_threshold;
  s->agree_streak = 0;
  s->probation = 0;
  s->strikes = strikes;
  if (latch_now) {
    s->latched = 1;
    s->latch_count = bump(s->latch_count);
  }
  push_event(ev, FW_EV_STRIKE, i, frame, (uint8_t)strikes);
  if (latch_now) push_event(ev, FW_EV_LATCHED, i, frame, 0);
  return 0;
}

/* ---- voter.ts ----------------------------------------------------------------------------------------- */

static fw_slot *slot_of(fw_voter *v, uint64_t frame) {
  fw_slot *s = &v->slots[frame % FW_SLOTS];
  return (s->used && s->frame == frame) ? s : NULL;
}

static fw_slot *new_slot(fw_voter *v, uint64_t frame) {
  fw_slot *s = &v->slots[frame % FW_SLOTS];
  /* Live frames span at most 2 (maxFramesAhead + 1) consecutive numbers, so the slot is free. */
  FW_INVARIANT(!s->used);
  clear_slot(s);
  s->used = 1;
  s->frame = frame;
  return s;
}

/* Every non-latched channel has reported for this frame. */
static int complete(const fw_voter *v, const fw_slot *s) {
  for (uint8_t i = 0; i < v->cfg.m; i++) {
    if (!s->has[i] && !v->ch[i].latched) return 0;
  }
  return 1;
}

static int is_ready(const fw_voter *v, const fw_slot *s) {
  if (complete(v, s)) return 1;
  round_result r;
  vote_round(v, s, AGREE_EARLY_BAND, &r);
  return r.writable;
}

/* Fix R of a frame and judge it; `r` is the standard round if at hand. The judgment goes to the sink. */
static void fix(fw_voter *v, fw_slot *s, double now, const round_result *given, fw_judgment *j) {
  round_result own;
  const round_result *r = given;
  FW_INVARIANT(!s->fixed);
  if (r == NULL) {
    vote_round(v, s, AGREE_TOLERANCE, &own);
    r = &own;
  }
  s->fixed = 1;
  s->fixed_has_reference = r->has_reference;
  s->fixed_judged = r->judgeable;
  if (r->has_reference) s->fixed_reference = r->reference;
  j->frame = s->frame;
  j->time = now;
  j->has_reference = r->has_reference;
  if (r->has_reference) j->reference = r->reference;
  j->judged = r->judgeable;
  j->agreed.n = 0;
  j->dissenters.n = 0;
  j->events.n = 0;
  if (r->judgeable && r->has_reference) {
    const fw_command reference = r->reference;
    for (uint8_t i = 0; i < v->cfg.m; i++) {
      if (!s->has[i]) continue;
      if (judge_one(v, i, s->frame, &s->cmd[i], &reference, &j->events)) j->agreed.ch[j->agreed.n++] = i;
      else j->dissenters.ch[j->dissenters.n++] = i;
    }
  }
  if (v->sink != NULL) v->sink(v->sink_context, j);
}

/* Channels with no in-time output for the frame were silent; the frame is forgotten. */
static void close_slot(fw_voter *v, fw_slot *s) {
  for (uint8_t i = 0; i < v->cfg.m; i++) {
    if (s->has[i]) continue;
    v->ch[i].silent_frames = bump(v->ch[i].silent_frames);
    v->ch[i].consecutive_silent = bump(v->ch[i].consecutive_silent);
  }
  clear_slot(s);
}

/* The written open slot with the smallest frame above `after` (FW_NO_FRAME: from the start), or NULL. */
static fw_slot *next_open(fw_voter *v, uint64_t after, int from_start) {
  fw_slot *best = NULL;
  for (unsigned k = 0; k < FW_SLOTS; k++) {
    fw_slot *s = &v->slots[k];
    if (!s->used || !s->written) continue;
    if (!from_start && s->frame <= after) continue;
    if (best == NULL || s->frame < best->frame) best = s;
  }
  return best;
}

/* closeDue: every written, open frame with deadline <= now, ascending: fix R if not fixed, close. */
static uint8_t close_due(fw_voter *v, double now) {
  static fw_judgment j;
  uint8_t fixed = 0;
  uint64_t after = 0;
  int from_start = 1;
  for (unsigned guard = 0; guard < FW_SLOTS; guard++) {
    fw_slot *s = next_open(v, after, from_start);
    if (s == NULL) break;
    after = s->frame;
    from_start = 0;
    if (fw_voter_deadline_of(v, s->frame) > now) continue;
    if (!s->fixed) {
      fix(v, s, now, NULL, &j);
      fixed++;
    }
    close_slot(v, s);
  }
  return fixed;
}

/* Frames below next - maxFramesAhead - 1 still open are closed (a bound; correct timing never reaches it). */
static uint8_t close_beyond_bound(fw_voter *v, double now) {
  static fw_judgment j;
  uint8_t fixed = 0;
  const uint64_t bound = (uint64_t)v->cfg.max_frames_ahead + 1u;
  if (v->next_frame < bound) return 0;
  const uint64_t oldest = v->next_frame - bound;
  uint64_t after = 0;
  int from_start = 1;
  for (unsigned guard = 0; guard < FW_SLOTS; guard++) {
    fw_slot *s = next_open(v, after, from_start);
    if (s == NULL) break;
    after = s->frame;
    from_start = 0;
    if (s->frame >= oldest) continue;
    if (!s->fixed) {
      fix(v, s, now, NULL, &j);
      fixed++;
    }
    close_slot(v, s);
  }
  return fixed;
}

static fw_offer_status reject(fw_voter *v, fw_offer_status status) {
  v->rejections[status]++;
  return status;
}

static uint64_t *receipt(fw_voter *v, uint8_t ch, uint64_t frame) {
  return &v->receipts[ch][frame % v->receipt_size];
}

fw_offer_status fw_voter_offer(fw_voter *v, uint64_t frame, uint8_t i, const fw_command *cmd, double now,
                               uint8_t *ready, fw_events *ev, uint8_t *judgments) {
  static fw_judgment j;
  const fw_voter_config *c = &v->cfg;
  FW_INVARIANT(i < c->m);
  *ready = 0;
  *judgments = 0;
  ev->n = 0;
  /* 1-2: unknown channel and malformed are the caller's checks (channel index, decoded fields). */
  if (frame > v->next_frame + c->max_frames_ahead) return reject(v, FW_OFFER_TOO_FAR_AHEAD);
  if (v->next_frame >= c->receipt_window && frame < v->next_frame - c->receipt_window)
    return reject(v, FW_OFFER_STALE);
  uint64_t *seen = receipt(v, i, frame);
  if (*seen == frame) return reject(v, FW_OFFER_DUPLICATE);
  *seen = frame;
  fw_channel_state *st = &v->ch[i];
  if (now > fw_voter_deadline_of(v, frame)) {
    st->late = bump(st->late);
    return reject(v, FW_OFFER_LATE);
  }
  fw_slot *s = slot_of(v, frame);
  if (s == NULL) {
    if (frame < v->next_frame) return reject(v, FW_OFFER_STALE);
    s = new_slot(v, frame);
  }
  FW_INVARIANT(!s->has[i]);
  s->has[i] = 1;
  s->cmd[i] = *cmd;
  s->reported++;
  st->in_time = bump(st->in_time);
  st->consecutive_silent = 0;
  if (!s->written) {
    *ready = (uint8_t)(frame == v->next_frame && is_ready(v, s));
    return FW_OFFER_BUFFERED;
  }
  if (!s->fixed) {
    if (complete(v, s)) {
      fix(v, s, now, NULL, &j);
      *judgments = 1;
      *ev = j.events;
    }
  } else if (s->fixed_judged && s->fixed_has_reference) {
    const fw_command reference = s->fixed_reference;
    judge_one(v, i, frame, cmd, &reference, ev);
  }
  if (s->fixed && s->reported == c->m) close_slot(v, s);
  return FW_OFFER_MONITORED;
}

static void outcome(fw_voter *v, const round_result *r, fw_decision *d) {
  if (r->writable) {
    v->consecutive_misses = 0;
    v->last_written = r->reference;
    d->kind = FW_KIND_WRITE;
  } else {
    v->consecutive_misses = bump(v->consecutive_misses);
    if (v->consecutive_misses >= v->cfg.failsafe_after_misses) {
      v->last_written = v->cfg.failsafe;
      d->kind = FW_KIND_FAILSAFE;
    } else {
      d->kind = FW_KIND_HOLD;
    }
  }
  d->value = v->last_written;
  v->decisions[d->kind]++;
}

/* The voter's last line: a written command is supported by at least f+1 voted outputs. */
static void assert_supported(const fw_voter *v, const fw_slot *s, const fw_command *value) {
  unsigned support = 0;
  for (uint8_t i = 0; i < v->cfg.m; i++) {
    if (s->has[i] && !v->ch[i].latched && agrees(&v->cfg, &s->cmd[i], value, AGREE_TOLERANCE)) support++;
  }
  FW_INVARIANT(support >= (unsigned)v->cfg.f + 1u);
}

int fw_voter_decide(fw_voter *v, uint64_t frame, double now, fw_decision *d) {
  static fw_judgment j;
  const fw_voter_config *c = &v->cfg;
  FW_INVARIANT(frame == v->next_frame);
  uint8_t judgments = close_due(v, now);
  fw_slot *s = slot_of(v, frame);
  if (s == NULL) s = new_slot(v, frame);
  const double deadline = fw_voter_deadline_of(v, frame);
  const int at_deadline = now >= deadline;
  const int standard = at_deadline || complete(v, s);
  if (!standard && !is_ready(v, s)) {
    d->judgments = judgments;
    return 0;
  }
  round_result r;
  vote_round(v, s, standard ? AGREE_TOLERANCE : AGREE_EARLY_BAND, &r);
  if (r.writable) assert_supported(v, s, &r.reference);
  outcome(v, &r, d);
  s->written = 1;
  v->next_frame = frame + 1u;
  d->frame = frame;
  d->time = now;
  d->reason = r.reason;
  d->early = now < deadline;
  d->early_round = (uint8_t)!standard;
  d->reported.n = 0;
  d->missing.n = 0;
  for (uint8_t i = 0; i < c->m; i++) {
    if (s->has[i]) d->reported.ch[d->reported.n++] = i;
    else if (!v->ch[i].latched) d->missing.ch[d->missing.n++] = i;
  }
  d->contributors.n = 0;
  if (r.writable) d->contributors = r.supporters;
  d->dissenters.n = 0;
  if (standard) {
    fix(v, s, now, &r, &j);
    judgments++;
    d->dissenters = j.dissenters;
  }
  if (at_deadline || (s->fixed && s->reported == c->m)) close_slot(v, s);
  judgments = (uint8_t)(judgments + close_beyond_bound(v, now));
  d->judgments = judgments;
  d->latched.n = 0;
  for (uint8_t i = 0; i < c->m; i++) {
    if (v->ch[i].latched) d->latched.ch[d->latched.n++] = i;
    d->strikes[i] = (uint8_t)v->ch[i].strikes;
  }
  d->consecutive_misses = v->consecutive_misses;
  return 1;
}

void fw_voter_skip_to(fw_voter *v, uint64_t frame) {
  if (frame <= v->next_frame) return;
  for (unsigned k = 0; k < FW_SLOTS; k++) {
    fw_slot *s = &v->slots[k];
    if (s->used && !s->written && s->frame < frame) clear_slot(s);
  }
  const uint64_t gap = frame - v->next_frame;
  v->consecutive_misses = v->consecutive_misses + gap < COUNTER_MAX ? v->consecutive_misses + gap : COUNTER_MAX;
  v->next_frame = frame;
}
