/*
 * Output voter for one actuator: the C port of src/core/vote/voter.ts (with select.ts, health.ts and
 * receipts.ts), whose header states the rules normatively, bit for bit. Time is whatever the caller passes
 * as `now` (a double, in the unit of the timing fields); every float operation is the TypeScript's, in the
 * same order (IEEE 754 binary64, round to nearest, no fused multiply-add: build with -ffp-contract=off).
 *
 * In short: an OUTPUT is checked (too far ahead, stale, a replay by the per-channel receipt ring, late) and
 * stored; a frame is written at its deadline, or earlier once every non-latched channel reported or f+1
 * voted outputs agree within the early band; the reference R of a frame (mid-value select per analog field,
 * unique plurality per discrete field, over the non-latched in-time outputs) is fixed once every non-latched
 * channel reported or at the deadline, and only then are channels judged against it (strikes, decay,
 * latching, probation); silence and lateness are counted, never struck; a miss holds, N misses fail safe.
 *
 * Static storage only: the open frames are a ring of 2 (FW_MAX_AHEAD + 1) slots, the receipts a ring per
 * channel of FW_MAX_RECEIPT_WINDOW + FW_MAX_AHEAD + 1 frame numbers. Judgments are handed to a sink as they
 * are fixed (a caller streams them out), so no call holds more than one.
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
  /* Early-write band per analog field; has_early_band 0: no early write on that field. */
  uint8_t has_early_band[FW_MAX_ANALOG];
  double early_band[FW_MAX_ANALOG];
  uint32_t strike_threshold;
  uint64_t strike_decay_frames;
  uint64_t probation_frames;
  uint64_t failsafe_after_misses;
  fw_command failsafe;
  fw_command initial;
  double origin;
  double period;
  double deadline;
  uint64_t first_frame;
  uint8_t max_frames_ahead; /* 0..FW_MAX_AHEAD */
  uint8_t receipt_window;   /* 1..FW_MAX_RECEIPT_WINDOW */
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

typedef struct {
  uint8_t n;
  uint8_t ch[FW_MAX_CHANNELS];
} fw_channel_list;

/* FrameJudgment of voter-types.ts. */
typedef struct {
  uint64_t frame;
  double time;
  uint8_t has_reference;
  fw_command reference;
  uint8_t judged;
  fw_channel_list agreed;
  fw_channel_list dissenters;
  fw_events events;
} fw_judgment;

/* Where judgments go as they are fixed (in the order the TypeScript returns them). */
typedef void (*fw_judgment_sink)(void *context, const fw_judgment *j);

/* OfferResult statuses and RejectReason of voter-types.ts. */
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

/* DecisionRecord of voter-types.ts (its judgments went to the sink; events = theirs, in order). */
typedef struct {
  uint64_t frame;
  double time;
  uint8_t kind;
  uint8_t reason;
  uint8_t early;
  uint8_t early_round;
  fw_command value;
  fw_channel_list reported;
  fw_channel_list contributors;
  fw_channel_list dissenters;
  fw_channel_list missing;
  fw_channel_list latched;
  uint8_t strikes[FW_MAX_CHANNELS];
  uint8_t judgments; /* how many went to the sink during this decide */
  uint64_t consecutive_misses;
} fw_decision;

/* HealthBook member plus the traffic counters. */
typedef struct {
  uint32_t strikes;
  uint64_t agree_streak;
  uint8_t latched;
  uint64_t probation;
  uint64_t latch_count;
  uint64_t in_time;
  uint64_t late;
  uint64_t silent_frames;
  uint64_t consecutive_silent;
} fw_channel_state;

typedef struct {
  uint8_t used;
  uint64_t frame;
  uint8_t has[FW_MAX_CHANNELS];
  fw_command cmd[FW_MAX_CHANNELS];
  uint8_t reported;
  uint8_t written;
  uint8_t fixed;
  uint8_t fixed_has_reference;
  uint8_t fixed_judged;
  fw_command fixed_reference;
} fw_slot;

#define FW_SLOTS (2u * (FW_MAX_AHEAD + 1u))
#define FW_RECEIPTS (FW_MAX_RECEIPT_WINDOW + FW_MAX_AHEAD + 1u)
#define FW_NO_FRAME UINT64_MAX

typedef struct {
  fw_voter_config cfg;
  fw_channel_state ch[FW_MAX_CHANNELS];
  fw_slot slots[FW_SLOTS];
  uint64_t receipts[FW_MAX_CHANNELS][FW_RECEIPTS];
  uint32_t receipt_size;
  uint64_t next_frame;
  fw_command last_written;
  uint64_t consecutive_misses;
  uint64_t decisions[3];
  uint64_t rejections[6]; /* indexed by fw_offer_status (entries 2..5 used) */
  fw_judgment_sink sink;
  void *sink_context;
} fw_voter;

/* cfg must have passed fw_voter_config_check. */
void fw_voter_init(fw_voter *v, const fw_voter_config *cfg, fw_judgment_sink sink, void *sink_context);
/* 0 when valid, else a nonzero code naming the broken rule (validateVoterConfig, plus FW_MAX_*). */
int fw_voter_config_check(const fw_voter_config *cfg);

double fw_voter_deadline_of(const fw_voter *v, uint64_t frame);
uint64_t fw_voter_next_frame(const fw_voter *v);

/*
 * Channel index `channel`'s command for `frame` arrived at `now`. *ready: buffered for the next frame and it
 * may be decided now. events: monitored outputs' events (its frame's judgment, or its own comparison).
 * Judgments fixed go to the sink; *judgments says how many.
 */
fw_offer_status fw_voter_offer(fw_voter *v, uint64_t frame, uint8_t channel, const fw_command *cmd, double now,
                               uint8_t *ready, fw_events *events, uint8_t *judgments);

/*
 * Decide `frame`: the next frame, at its deadline or once ready. Judgments go to the sink. Returns 0 (and
 * decides nothing, after closeDue) when it is neither: voter.ts throws an InvariantError there, which a caller
 * that decides on an offer's `ready` can hit when closeDue latches one of the early supporters; the unit
 * declines instead, and the frame's deadline decides it.
 */
int fw_voter_decide(fw_voter *v, uint64_t frame, double now, fw_decision *out);

/*
 * The frame clock jumped ahead (the unit was down, or started late): frames next..frame-1 were never decided
 * and count as misses; frames never written are dropped. No-op unless frame > next. Not in voter.ts, whose
 * caller never skips a frame.
 */
void fw_voter_skip_to(fw_voter *v, uint64_t frame);

/* midValue and majority of select.ts, exposed for tests. */
double fw_mid_value(const double *values, uint8_t n);
/* Returns 1 and the winner when exactly one value has the most votes and at least quorum of them. */
int fw_majority(const uint8_t *values, uint8_t n, uint8_t quorum, uint8_t *winner);

#endif
