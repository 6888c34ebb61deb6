/*
 * Output voter for one actuator: the C port of src/core/vote/voter.ts, decision for decision. Time is whatever
 * the caller passes as `now` (a double, in the unit of the timing fields); the same IEEE-754 operations in
 * the same order as the TypeScript, so deadlines and mid-values are bit-identical.
 *
 * Rules (DESIGN.md, Voting; voter.ts header):
 * - discrete fields: exact majority, f+1 identical values;
 * - analog fields: mid-value select over the non-latched channels that reported in time; the written command
 *   must agree (within tolerance, equal on discrete fields) with at least f+1 reported commands, otherwise the
 *   frame is a miss: hold the last written command; after N consecutive misses, failsafe;
 * - a channel outside tolerance of the written command gets a strike; a strike is worked off by
 *   strike_decay_frames agreeing frames; at strike_threshold it is latched (no longer voted, still compared)
 *   and reintegrated after probation_frames consecutive agreeing frames;
 * - silence and lateness are counted per channel, never struck;
 * - bad offers are counted rejections, never failures.
 *
 * Static storage only: the pending window is a ring of FW_MAX_AHEAD + 1 frames of FW_MAX_CHANNELS commands.
 */
#ifndef FW_VOTER_H
#define FW_VOTER_H
#include <stddef.h>
#include <stdint.h>
#include "fw_limits.h"

typedef struct {
  uint8_t discrete[FW_MAX_DISCRETE];
  double analog[FW_MAX_ANALOG];
} fw_command;

typedef struct {
  uint8_t m; /* channels */
  uint8_t f;
  uint8_t analog_n;
  uint8_t discrete_n;
  double tolerance[FW_MAX_ANALOG];
  uint8_t strike_threshold; /* 1..255 */
  uint32_t strike_decay_frames;
  uint32_t probation_frames;
  uint32_t failsafe_after_misses;
  fw_command failsafe;
  fw_command initial;
  double origin;
  double period;
  double deadline;
  uint64_t first_frame;
  uint8_t max_frames_ahead; /* 0..FW_MAX_AHEAD */
} fw_voter_config;

typedef enum { FW_EV_STRIKE = 0, FW_EV_LATCHED = 1, FW_EV_REINTEGRATED = 2 } fw_event_kind;

typedef struct {
  uint8_t kind;
  uint8_t channel;
  uint8_t strikes; /* FW_EV_STRIKE only */
  uint64_t frame;
} fw_event;

typedef struct {
  uint8_t n;
  fw_event e[FW_MAX_EVENTS];
} fw_events;

/* OfferResult statuses and RejectReason of voter.ts. */
typedef enum {
  FW_OFFER_BUFFERED = 0,
  FW_OFFER_MONITORED = 1,
  FW_OFFER_DUPLICATE = 2,
  FW_OFFER_LATE = 3,
  FW_OFFER_STALE = 4,
  FW_OFFER_TOO_FAR_AHEAD = 5
} fw_offer_status;

typedef enum { FW_KIND_WRITE = 0, FW_KIND_HOLD = 1, FW_KIND_FAILSAFE = 2 } fw_decision_kind;
typedef enum { FW_REASON_MAJORITY = 0, FW_REASON_NO_MAJORITY = 1, FW_REASON_TOO_FEW = 2 } fw_decision_reason;

typedef struct {
  uint8_t n;
  uint8_t ch[FW_MAX_CHANNELS];
} fw_channel_list;

/* DecisionRecord of voter.ts; channel lists hold channel indices in the TypeScript's order. */
typedef struct {
  uint64_t frame;
  double time;
  uint8_t kind;
  uint8_t reason;
  uint8_t early;
  fw_command value;
  fw_channel_list reported;
  fw_channel_list contributors;
  fw_channel_list dissenters;
  fw_channel_list missing;
  fw_channel_list latched;
  uint8_t strikes[FW_MAX_CHANNELS];
  fw_events events;
  uint64_t consecutive_misses;
} fw_decision;

typedef struct {
  uint8_t strikes;
  uint8_t latched;
  uint32_t agree_mod; /* agreeStreak mod strike_decay_frames: all the rules ever ask of the streak */
  uint32_t probation;
  uint32_t latch_count;
  uint32_t in_time;
  uint32_t late;
  uint32_t silent_frames;
  uint32_t consecutive_silent;
} fw_channel_state;

typedef struct {
  uint8_t used;
  uint64_t frame;
  uint8_t n;                       /* outputs held, in arrival order */
  uint8_t order[FW_MAX_CHANNELS];  /* channel index of the i-th arrival */
  uint8_t has[FW_MAX_CHANNELS];
  fw_command cmd[FW_MAX_CHANNELS];
} fw_pending_frame;

typedef struct {
  fw_voter_config cfg;
  fw_channel_state ch[FW_MAX_CHANNELS];
  fw_pending_frame pending[FW_MAX_AHEAD + 1u];
  uint64_t next_frame;
  fw_command last_written;
  uint64_t consecutive_misses;
  /* The previous decision (voter.ts `last`), valid once has_last. */
  uint8_t has_last;
  uint64_t last_frame;
  uint8_t last_has_written;
  fw_command last_written_value;
  uint8_t awaiting[FW_MAX_CHANNELS];
  uint32_t decisions[3];
  uint32_t rejections[6]; /* indexed by fw_offer_status (entries 2..5 used) */
} fw_voter;

/* cfg must have passed fw_voter_config_check. */
void fw_voter_init(fw_voter *v, const fw_voter_config *cfg);
/* 0 when valid, else a nonzero code naming the broken rule (validateConfig of voter.ts, plus FW_MAX_*). */
int fw_voter_config_check(const fw_voter_config *cfg);

double fw_voter_deadline_of(const fw_voter *v, uint64_t frame);

/*
 * Channel index `channel`'s command for `frame` arrived at `now`. *majority_ready (buffered) or *agreed
 * (monitored) and events (monitored: strikes, latch, reintegration found by the comparison) are filled.
 */
fw_offer_status fw_voter_offer(fw_voter *v, uint64_t frame, uint8_t channel, const fw_command *cmd, double now,
                               uint8_t *majority_ready, uint8_t *agreed, fw_events *events);

/* Decide `frame`, which must be the next frame (fw_voter_next_frame). */
void fw_voter_decide(fw_voter *v, uint64_t frame, double now, fw_decision *out);

/*
 * The frame clock jumped ahead (the unit was down, or started late): frames next..frame-1 were never decided;
 * they count as misses. No-op unless frame > next. Not in voter.ts, whose caller never skips a frame.
 */
void fw_voter_skip_to(fw_voter *v, uint64_t frame);

uint64_t fw_voter_next_frame(const fw_voter *v);

/* midValue and majority of voter.ts, exposed for tests. */
double fw_mid_value(const double *values, uint8_t n);
/* Returns 1 and the winner when exactly one value has the most votes and at least quorum of them. */
int fw_majority(const uint8_t *values, uint8_t n, uint8_t quorum, uint8_t *winner);

#endif
