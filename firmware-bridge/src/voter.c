#include "voter.h"

/* A broken invariant is a bug in the unit, not bad input: stop here and let the watchdog reset the board. */
#define FW_INVARIANT(cond) \
  do {                     \
    if (!(cond)) fw_invariant_failed(__LINE__); \
  } while (0)

void fw_invariant_failed(int line);

typedef struct {
  uint8_t has_value;
  fw_command value;
  fw_channel_list contributors;
  uint8_t reason;
} vote_result;

uint64_t fw_voter_next_frame(const fw_voter *v) { return v->next_frame; }

double fw_voter_deadline_of(const fw_voter *v, uint64_t frame) {
  /* origin + frame * period + deadline, left to right as in voter.ts deadlineOf. */
  return v->cfg.origin + (double)frame * v->cfg.period + v->cfg.deadline;
}

int fw_voter_config_check(const fw_voter_config *c) {
  if (c->m < 1u || c->m > FW_MAX_CHANNELS) return 1;
  if ((unsigned)c->m < 2u * (unsigned)c->f + 1u) return 2;
  if (c->strike_threshold < 1u || c->strike_decay_frames < 1u || c->probation_frames < 1u ||
      c->failsafe_after_misses < 1u)
    return 3;
  if (c->max_frames_ahead > FW_MAX_AHEAD) return 4;
  if (c->analog_n > FW_MAX_ANALOG || c->discrete_n > FW_MAX_DISCRETE) return 5;
  if (c->analog_n + c->discrete_n == 0u) return 6;
  for (unsigned i = 0; i < c->analog_n; i++) {
    const double t = c->tolerance[i];
    if (!(t >= 0.0) || !(t - t == 0.0)) return 7; /* negative, NaN or infinite */
    if (!(c->failsafe.analog[i] - c->failsafe.analog[i] == 0.0)) return 8;
    if (!(c->initial.analog[i] - c->initial.analog[i] == 0.0)) return 8;
  }
  if (!(c->period > 0.0) || !(c->origin - c->origin == 0.0) || !(c->deadline >= 0.0)) return 9;
  return 0;
}

static void clear_frame(fw_pending_frame *p) {
  p->used = 0;
  p->n = 0;
  for (unsigned i = 0; i < FW_MAX_CHANNELS; i++) p->has[i] = 0;
}

void fw_voter_init(fw_voter *v, const fw_voter_config *cfg) {
  v->cfg = *cfg;
  for (unsigned i = 0; i < FW_MAX_CHANNELS; i++) {
    fw_channel_state *s = &v->ch[i];
    s->strikes = 0;
    s->latched = 0;
    s->agree_mod = 0;
    s->probation = 0;
    s->latch_count = 0;
    s->in_time = 0;
    s->late = 0;
    s->silent_frames = 0;
    s->consecutive_silent = 0;
    v->awaiting[i] = 0;
  }
  for (unsigned i = 0; i <= FW_MAX_AHEAD; i++) clear_frame(&v->pending[i]);
  v->next_frame = cfg->first_frame;
  v->last_written = cfg->initial;
  v->consecutive_misses = 0;
  v->has_last = 0;
  v->last_frame = 0;
  v->last_has_written = 0;
  for (unsigned i = 0; i < 3u; i++) v->decisions[i] = 0;
  for (unsigned i = 0; i < 6u; i++) v->rejections[i] = 0;
}

static fw_pending_frame *slot_of(fw_voter *v, uint64_t frame) {
  return &v->pending[frame % (FW_MAX_AHEAD + 1u)];
}

/* The pending outputs of `frame`, or NULL. */
static fw_pending_frame *pending_of(fw_voter *v, uint64_t frame) {
  fw_pending_frame *p = slot_of(v, frame);
  return (p->used && p->frame == frame) ? p : NULL;
}

double fw_mid_value(const double *values, uint8_t n) {
  double sorted[FW_MAX_CHANNELS];
  FW_INVARIANT(n >= 1u && n <= FW_MAX_CHANNELS);
  /* Stable insertion sort on a < b: the order Array.prototype.sort gives with (a, b) => a - b (finite values,
   * so a - b is zero exactly when a == b, and 0 and -0 keep their arrival order). */
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
  /* First value with the most votes, in first-seen order; a tie for the most votes is no majority. */
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
  return d < 0.0 ? -d : d;
}

static int agrees(const fw_voter *v, const fw_command *cmd, const fw_command *value) {
  for (unsigned i = 0; i < v->cfg.analog_n; i++) {
    if (!(abs_diff(cmd->analog[i], value->analog[i]) <= v->cfg.tolerance[i])) return 0;
  }
  for (unsigned i = 0; i < v->cfg.discrete_n; i++) {
    if (cmd->discrete[i] != value->discrete[i]) return 0;
  }
  return 1;
}

/* Mid-value select per analog field, exact majority per discrete field, then whole-command support. */
static void vote(fw_voter *v, const fw_pending_frame *p, vote_result *out) {
  uint8_t voters[FW_MAX_CHANNELS];
  uint8_t nv = 0;
  out->has_value = 0;
  out->contributors.n = 0;
  if (p != NULL) {
    for (uint8_t i = 0; i < p->n; i++) {
      const uint8_t ch = p->order[i];
      if (!v->ch[ch].latched) voters[nv++] = ch;
    }
  }
  if (nv < (unsigned)v->cfg.f + 1u) {
    out->reason = FW_REASON_TOO_FEW;
    return;
  }
  for (unsigned fi = 0; fi < v->cfg.analog_n; fi++) {
    double values[FW_MAX_CHANNELS];
    for (uint8_t i = 0; i < nv; i++) values[i] = p->cmd[voters[i]].analog[fi];
    out->value.analog[fi] = fw_mid_value(values, nv);
  }
  for (unsigned fi = 0; fi < v->cfg.discrete_n; fi++) {
    uint8_t values[FW_MAX_CHANNELS];
    for (uint8_t i = 0; i < nv; i++) values[i] = p->cmd[voters[i]].discrete[fi];
    if (!fw_majority(values, nv, (uint8_t)(v->cfg.f + 1u), &out->value.discrete[fi])) {
      out->reason = FW_REASON_NO_MAJORITY;
      return;
    }
  }
  for (uint8_t i = 0; i < nv; i++) {
    if (agrees(v, &p->cmd[voters[i]], &out->value)) out->contributors.ch[out->contributors.n++] = voters[i];
  }
  if (out->contributors.n < (unsigned)v->cfg.f + 1u) {
    out->contributors.n = 0;
    out->reason = FW_REASON_NO_MAJORITY;
    return;
  }
  out->has_value = 1;
  out->reason = FW_REASON_MAJORITY;
}

static void push_event(fw_events *ev, uint8_t kind, uint8_t ch, uint64_t frame, uint8_t strikes) {
  FW_INVARIANT(ev->n < FW_MAX_EVENTS);
  fw_event *e = &ev->e[ev->n++];
  e->kind = kind;
  e->channel = ch;
  e->frame = frame;
  e->strikes = strikes;
}

/* Compare one channel's output with the written command: strike, decay, latch, probation. */
static int compare(fw_voter *v, uint8_t ch, uint64_t frame, const fw_command *cmd, const fw_command *written,
                   fw_events *ev) {
  fw_channel_state *s = &v->ch[ch];
  const fw_voter_config *c = &v->cfg;
  if (agrees(v, cmd, written)) {
    s->agree_mod = (s->agree_mod + 1u) % c->strike_decay_frames;
    if (s->agree_mod == 0u && s->strikes > 0u) s->strikes--;
    if (s->latched) {
      s->probation++;
      if (s->probation >= c->probation_frames) {
        s->latched = 0;
        s->strikes = 0;
        s->probation = 0;
        push_event(ev, FW_EV_REINTEGRATED, ch, frame, 0);
      }
    }
    return 1;
  }
  s->agree_mod = 0;
  s->probation = 0;
  if (s->strikes < c->strike_threshold) s->strikes++;
  push_event(ev, FW_EV_STRIKE, ch, frame, s->strikes);
  if (!s->latched && s->strikes >= c->strike_threshold) {
    s->latched = 1;
    s->latch_count++;
    push_event(ev, FW_EV_LATCHED, ch, frame, 0);
  }
  return 0;
}

static void count_silent(fw_voter *v, uint8_t ch) {
  v->ch[ch].silent_frames++;
  v->ch[ch].consecutive_silent++;
}

/* Channels that never delivered after the previous early decision were silent for that frame. */
static void settle_awaiting(fw_voter *v) {
  if (!v->has_last) return;
  for (uint8_t ch = 0; ch < v->cfg.m; ch++) {
    if (v->awaiting[ch]) count_silent(v, ch);
    v->awaiting[ch] = 0;
  }
}

static void drop_stale(fw_voter *v) {
  for (unsigned i = 0; i <= FW_MAX_AHEAD; i++) {
    fw_pending_frame *p = &v->pending[i];
    if (p->used && p->frame < v->next_frame) clear_frame(p);
  }
}

static uint8_t reject(fw_voter *v, fw_offer_status status) {
  v->rejections[status]++;
  return (uint8_t)status;
}

/* An output for a frame already decided: monitor it if it was in time, else count it. */
static fw_offer_status offer_after_decision(fw_voter *v, uint64_t frame, uint8_t ch, const fw_command *cmd,
                                            int late, uint8_t *agreed, fw_events *ev) {
  fw_channel_state *s = &v->ch[ch];
  if (late) {
    s->late++;
    return (fw_offer_status)reject(v, FW_OFFER_LATE);
  }
  if (!v->has_last || v->last_frame != frame) return (fw_offer_status)reject(v, FW_OFFER_STALE);
  if (!v->awaiting[ch]) return (fw_offer_status)reject(v, FW_OFFER_DUPLICATE);
  v->awaiting[ch] = 0;
  s->in_time++;
  s->consecutive_silent = 0;
  *agreed = v->last_has_written ? (uint8_t)compare(v, ch, frame, cmd, &v->last_written_value, ev) : 1u;
  return FW_OFFER_MONITORED;
}

fw_offer_status fw_voter_offer(fw_voter *v, uint64_t frame, uint8_t ch, const fw_command *cmd, double now,
                               uint8_t *majority_ready, uint8_t *agreed, fw_events *ev) {
  FW_INVARIANT(ch < v->cfg.m);
  *majority_ready = 0;
  *agreed = 0;
  ev->n = 0;
  const int late = now > fw_voter_deadline_of(v, frame);
  if (frame < v->next_frame) return offer_after_decision(v, frame, ch, cmd, late, agreed, ev);
  if (late) {
    v->ch[ch].late++;
    return (fw_offer_status)reject(v, FW_OFFER_LATE);
  }
  if (frame - v->next_frame > v->cfg.max_frames_ahead) return (fw_offer_status)reject(v, FW_OFFER_TOO_FAR_AHEAD);
  fw_pending_frame *p = slot_of(v, frame);
  if (!p->used) {
    clear_frame(p);
    p->used = 1;
    p->frame = frame;
  }
  FW_INVARIANT(p->frame == frame);
  if (p->has[ch]) return (fw_offer_status)reject(v, FW_OFFER_DUPLICATE);
  p->has[ch] = 1;
  p->cmd[ch] = *cmd;
  p->order[p->n++] = ch;
  if (frame == v->next_frame) {
    vote_result r;
    vote(v, p, &r);
    *majority_ready = r.has_value;
  }
  return FW_OFFER_BUFFERED;
}

static void outcome(fw_voter *v, const vote_result *r, fw_decision *d) {
  if (r->has_value) {
    v->consecutive_misses = 0;
    v->last_written = r->value;
    d->kind = FW_KIND_WRITE;
  } else {
    v->consecutive_misses++;
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

void fw_voter_decide(fw_voter *v, uint64_t frame, double now, fw_decision *d) {
  FW_INVARIANT(frame == v->next_frame);
  const fw_voter_config *c = &v->cfg;
  settle_awaiting(v);
  fw_pending_frame *p = pending_of(v, frame);
  const double deadline = fw_voter_deadline_of(v, frame);
  const uint8_t early = now < deadline;
  vote_result r;
  vote(v, p, &r);
  d->frame = frame;
  d->time = now;
  d->early = early;
  d->reason = r.reason;
  d->events.n = 0;
  d->dissenters.n = 0;
  d->reported.n = 0;
  d->missing.n = 0;
  d->latched.n = 0;
  d->contributors = r.contributors;
  const uint8_t arrived = p != NULL ? p->n : 0u;
  if (r.has_value) {
    /* The last line: the written command is supported by at least f+1 voted outputs (vote() counted them). */
    FW_INVARIANT(r.contributors.n >= (unsigned)c->f + 1u);
    for (uint8_t i = 0; i < arrived; i++) {
      const uint8_t ch = p->order[i];
      if (!compare(v, ch, frame, &p->cmd[ch], &r.value, &d->events)) d->dissenters.ch[d->dissenters.n++] = ch;
    }
  }
  for (uint8_t ch = 0; ch < c->m; ch++) {
    const int reported = p != NULL && p->has[ch];
    if (!reported && !v->ch[ch].latched) d->missing.ch[d->missing.n++] = ch;
  }
  for (uint8_t i = 0; i < arrived; i++) {
    fw_channel_state *s = &v->ch[p->order[i]];
    s->in_time++;
    s->consecutive_silent = 0;
    d->reported.ch[d->reported.n++] = p->order[i];
  }
  if (!early) {
    for (uint8_t i = 0; i < d->missing.n; i++) count_silent(v, d->missing.ch[i]);
  }
  outcome(v, &r, d);
  v->has_last = 1;
  v->last_frame = frame;
  v->last_has_written = r.has_value;
  if (r.has_value) v->last_written_value = r.value;
  /* Latched channels too: they are still compared after an early decision (probation). */
  for (uint8_t ch = 0; ch < c->m; ch++) v->awaiting[ch] = (uint8_t)(early && !(p != NULL && p->has[ch]));
  if (p != NULL) clear_frame(p);
  v->next_frame = frame + 1u;
  drop_stale(v);
  for (uint8_t ch = 0; ch < c->m; ch++) {
    if (v->ch[ch].latched) d->latched.ch[d->latched.n++] = ch;
    d->strikes[ch] = v->ch[ch].strikes;
  }
  d->consecutive_misses = v->consecutive_misses;
}

void fw_voter_skip_to(fw_voter *v, uint64_t frame) {
  if (frame <= v->next_frame) return;
  settle_awaiting(v);
  v->has_last = 0;
  v->consecutive_misses += frame - v->next_frame;
  v->next_frame = frame;
  drop_stale(v);
}
