#include "board.h"
#include "message.h"
#include "port.h"

#define FW_BOARD_CHECK(cond)                    \
  do {                                          \
    if (!(cond)) fw_invariant_failed(__LINE__); \
  } while (0)

static void send_payload(fw_board *b, const fw_writer *w) {
  if (w->overflow || w->length == 0u) {
    b->link_errors++;
    return;
  }
  const size_t n = fw_frame_encode(w->bytes, w->length, b->wire, sizeof b->wire);
  if (n > 0u) fw_port_write(b->wire, n);
}

/* A heartbeat in the canonical encoding, tagged with the heartbeat key (tag length as the channels'). */
static void write_heartbeat(fw_board *b, fw_writer *w) {
  if (b->prov_status != FW_PROV_OK) return;
  fw_heartbeat h;
  uint8_t mac[FW_SHA256_BYTES];
  h.node = b->prov.self_principal;
  h.role = FW_ROLE_VOTER;
  h.counter = (uint64_t)b->voter.decisions[0] + b->voter.decisions[1] + b->voter.decisions[2];
  h.status =
      (uint8_t)(b->reset_cause | (b->voter.consecutive_misses >= b->voter.cfg.failsafe_after_misses ? 0x10u : 0u));
  const size_t start = w->length;
  fw_encode_heartbeat_unsigned(w, &h);
  if (w->overflow) return;
  fw_hmac(&b->prov.heartbeat_key, &w->bytes[start], w->length - start, mac);
  fw_encode_tag(w, mac, b->prov.tag_length);
}

/* Judgments leave as they are fixed, each in its own frame before the response (outside the measured work). */
static void judgment_out(void *context, const fw_judgment *j) {
  fw_board *b = context;
  fw_writer w;
  const uint32_t t0 = fw_port_ticks();
  fw_writer_init(&w, b->side, sizeof b->side);
  fw_write_u8(&w, FW_RSP_JUDGMENT);
  fw_write_uvar(&w, b->current_seq);
  fw_link_write_judgment(&w, &b->voter, j);
  send_payload(b, &w);
  b->io_ticks += fw_port_ticks() - t0;
}

void fw_board_init(fw_board *b, const uint8_t *provision, size_t provision_n, uint32_t boot_count,
                   uint8_t reset_cause, uint32_t epoch) {
  fw_writer w;
  fw_deframer_init(&b->deframer);
  b->prov_status = provision == NULL ? (uint8_t)FW_PROV_MISSING
                                     : (uint8_t)fw_provision_parse(provision, provision_n, &b->prov);
  if (b->prov_status == FW_PROV_OK) {
    fw_voter_init(&b->voter, &b->prov.voter, judgment_out, b);
    fw_rekey_init(&b->rekey, &b->prov);
  }
  fw_rejoin_init(&b->rejoin, reset_cause == FW_RESET_WATCHDOG || epoch > 1u);
  b->epoch = epoch;
  b->current_seq = 0;
  b->io_ticks = 0;
  b->boot_count = boot_count;
  b->reset_cause = reset_cause;
  for (unsigned i = 0; i < FW_CODE_COUNT; i++) b->codes[i] = 0;
  b->link_errors = 0;
  b->declined = 0;
  b->work_ticks = 0;
  b->work_max_ticks = 0;
  b->work_requests = 0;
  fw_writer_init(&w, b->out, sizeof b->out);
  fw_write_u8(&w, FW_RSP_BOOT);
  fw_write_u8(&w, b->prov_status);
  fw_write_u8(&w, reset_cause);
  fw_write_uvar(&w, boot_count);
  fw_write_uvar(&w, epoch);
  write_heartbeat(b, &w);
  send_payload(b, &w);
}

uint32_t fw_board_watchdog_ms(const fw_board *b) {
  if (b->prov_status != FW_PROV_OK) return FW_WATCHDOG_MAX_MS;
  const fw_voter_config *c = &b->prov.voter;
  double ms = (double)c->failsafe_after_misses * c->period / 2.0;
  /* Written so that NaN (not possible from a checked record, but cheap to rule out) takes the minimum. */
  if (!(ms >= (double)FW_WATCHDOG_MIN_MS)) ms = (double)FW_WATCHDOG_MIN_MS;
  if (ms > (double)FW_WATCHDOG_MAX_MS) ms = (double)FW_WATCHDOG_MAX_MS;
  return (uint32_t)ms;
}

static void error_response(fw_board *b, uint64_t seq, uint8_t code) {
  fw_writer w;
  b->link_errors++;
  fw_writer_init(&w, b->out, sizeof b->out);
  fw_write_u8(&w, FW_RSP_ERROR);
  fw_write_uvar(&w, seq);
  fw_write_u8(&w, code);
  send_payload(b, &w);
}

/* Decisions reach the actuator after the response is built (outside the measured work). */
static const fw_decision *to_actuator = NULL;

static void decided(fw_board *b, fw_writer *w, const fw_decision *d) {
  fw_link_write_decision(w, &b->voter, d);
  to_actuator = d;
}

/* The OUTPUT's fields as the voter's command: the counts and ranges of the config (commandFromFields). */
static int command_of(const fw_board *b, const fw_output *o, fw_command *cmd) {
  const fw_voter_config *c = &b->prov.voter;
  if (o->discrete_n != c->discrete_n || o->analog_n != c->analog_n) return 0;
  for (unsigned i = 0; i < c->discrete_n; i++) {
    if (o->discrete[i] >= b->prov.cardinality[i]) return 0;
    cmd->discrete[i] = (uint8_t)o->discrete[i];
  }
  for (unsigned i = 0; i < c->analog_n; i++) cmd->analog[i] = o->analog[i];
  return 1;
}

/* The checks of VoterHost.onOutput, in its order, then the voter; returns the offer code. */
static uint8_t deliver(fw_board *b, const uint8_t *msg, size_t n, double now, uint8_t *flag, fw_events *ev,
                       uint8_t *judgments, fw_decision *d, int *has_decision) {
  static fw_message m; /* static: large, and the unit handles one message at a time */
  fw_command cmd;
  ev->n = 0;
  *flag = 0;
  *judgments = 0;
  *has_decision = 0;
  const fw_decode_status ds = fw_decode_message(msg, n, FW_MAX_MESSAGE_BYTES, &m);
  if (ds != FW_DEC_OK) return (uint8_t)(FW_CODE_DECODE_BASE + (unsigned)ds);
  if (m.kind != FW_KIND_OUTPUT) return (uint8_t)(FW_CODE_DECODE_BASE + (unsigned)FW_DEC_UNHANDLED_KIND);
  const fw_output *o = &m.u.output;
  const int ch = fw_provision_channel_index(&b->prov, o->channel);
  if (ch < 0) return FW_CODE_UNKNOWN_CHANNEL;
  if (fw_rejoin_refuses(&b->rejoin, o->frame)) return FW_CODE_BEFORE_RESET;
  /* The current key, or during a handover (rekey.h) the previous one for the frames before it. */
  if (!fw_hmac_verify(&b->prov.channel_key[ch], msg, m.auth_n, o->tag, o->tag_n, b->prov.tag_length) &&
      !(fw_rekey_previous_valid(&b->rekey, (uint8_t)ch, o->frame, fw_voter_next_frame(&b->voter)) &&
        fw_hmac_verify(&b->rekey.previous[ch], msg, m.auth_n, o->tag, o->tag_n, b->prov.tag_length)))
    return FW_CODE_BAD_MAC;
  if (!command_of(b, o, &cmd)) return FW_CODE_MALFORMED;
  uint8_t ready = 0;
  const fw_offer_status st = fw_voter_offer(&b->voter, o->frame, (uint8_t)ch, &cmd, now, &ready, ev, judgments);
  *flag = ready;
  /* VoterHost: decide as soon as the next frame is ready (a majority within the early band, or all in). */
  if (st == FW_OFFER_BUFFERED && ready && o->frame == fw_voter_next_frame(&b->voter)) {
    *has_decision = fw_voter_decide(&b->voter, o->frame, now, d);
    if (!*has_decision) {
      b->declined++;
      *judgments = (uint8_t)(*judgments + d->judgments); /* closeDue ran: its judgments were sent */
    }
  }
  return (uint8_t)st;
}

static void handle_deliver(fw_board *b, fw_writer *w, fw_reader *r, uint64_t seq, double now) {
  static fw_decision d;
  fw_events ev;
  uint8_t flag = 0;
  uint8_t judgments = 0;
  int has_decision = 0;
  const size_t n = fw_reader_remaining(r);
  const uint8_t *msg = fw_read_raw(r, n);
  const uint8_t code = deliver(b, msg, n, now, &flag, &ev, &judgments, &d, &has_decision);
  b->codes[code < FW_CODE_COUNT ? code : FW_CODE_COUNT - 1u]++;
  fw_write_u8(w, FW_RSP_OFFER);
  fw_write_uvar(w, seq);
  fw_write_u8(w, code);
  fw_write_u8(w, flag);
  fw_link_write_events(w, &ev);
  fw_write_u8(w, judgments);
  if (has_decision) decided(b, w, &d);
  else fw_link_write_decision(w, &b->voter, NULL);
}

/* The deadline timer of `frame` (VoterHost.armFrame): decide if it is still the next frame. */
static void handle_tick(fw_board *b, fw_writer *w, uint64_t seq, double now, uint64_t frame) {
  static fw_decision d;
  fw_write_u8(w, FW_RSP_TICK);
  fw_write_uvar(w, seq);
  /* A TICK before the frame's deadline is not a deadline: the rig's clock is wrong; nothing is decided. */
  if (frame >= fw_voter_next_frame(&b->voter) && now >= fw_voter_deadline_of(&b->voter, frame)) {
    fw_voter_skip_to(&b->voter, frame);
    const int done = fw_voter_decide(&b->voter, frame, now, &d);
    FW_BOARD_CHECK(done); /* at the deadline the voter always decides */
    fw_rejoin_deadline_decided(&b->rejoin, frame);
    decided(b, w, &d);
  } else {
    if (frame >= fw_voter_next_frame(&b->voter)) b->link_errors++;
    fw_link_write_decision(w, &b->voter, NULL);
  }
}

/*
 * seq, nextFrame, bootCount, resetCause u8, decisions (write, hold, failsafe), FW_CODE_COUNT offer-code
 * counters, deframer (accepted, cobs, crc, too-long, empty), link errors, work (requests, ticks, max ticks),
 * stack bytes used, early decisions declined (see fw_voter_decide), watchdog ms, epoch, REKEY outcomes (ok,
 * malformed, bad tag, stale, no epoch),
 * m x channel health (latched u8, strikes u8, latchCount, probation, inTime, late, silentFrames,
 * consecutiveSilent), all uvar unless marked.
 */
static void handle_status(fw_board *b, uint64_t seq) {
  fw_writer w;
  const fw_voter *v = &b->voter;
  fw_writer_init(&w, b->out, sizeof b->out);
  fw_write_u8(&w, FW_RSP_STATUS);
  fw_write_uvar(&w, seq);
  fw_write_uvar(&w, v->next_frame);
  fw_write_uvar(&w, b->boot_count);
  fw_write_u8(&w, b->reset_cause);
  for (unsigned i = 0; i < 3u; i++) fw_write_uvar(&w, v->decisions[i]);
  for (unsigned i = 0; i < FW_CODE_COUNT; i++) fw_write_uvar(&w, b->codes[i]);
  fw_write_uvar(&w, b->deframer.accepted);
  for (unsigned i = 0; i < (unsigned)FW_DEFRAME_REASONS; i++) fw_write_uvar(&w, b->deframer.rejected[i]);
  fw_write_uvar(&w, b->link_errors);
  fw_write_uvar(&w, b->work_requests);
  fw_write_uvar(&w, b->work_ticks);
  fw_write_uvar(&w, b->work_max_ticks);
  fw_write_uvar(&w, fw_port_stack_used());
  fw_write_uvar(&w, b->declined);
  fw_write_uvar(&w, fw_board_watchdog_ms(b));
  fw_write_uvar(&w, b->epoch);
  for (unsigned i = 0; i < 5u; i++) fw_write_uvar(&w, b->rekey.outcomes[i]);
  for (unsigned i = 0; i < v->cfg.m; i++) {
    const fw_channel_state *s = &v->ch[i];
    fw_write_u8(&w, s->latched);
    fw_write_u8(&w, (uint8_t)s->strikes);
    fw_write_uvar(&w, s->latch_count);
    fw_write_uvar(&w, s->probation);
    fw_write_uvar(&w, s->in_time);
    fw_write_uvar(&w, s->late);
    fw_write_uvar(&w, s->silent_frames);
    fw_write_uvar(&w, s->consecutive_silent);
  }
  send_payload(b, &w);
}

static void handle_ping(fw_board *b, uint64_t seq) {
  fw_writer w;
  fw_writer_init(&w, b->out, sizeof b->out);
  fw_write_u8(&w, FW_RSP_PONG);
  fw_write_uvar(&w, seq);
  write_heartbeat(b, &w);
  send_payload(b, &w);
}

static void handle_rekey(fw_board *b, const uint8_t *payload, size_t n, size_t body, uint64_t seq) {
  uint8_t channel = 0;
  uint64_t generation = 0;
  uint64_t until = 0;
  const fw_rekey_status st = fw_rekey_apply(&b->rekey, &b->prov, payload, n, body, b->epoch, b->boot_count,
                                            fw_voter_next_frame(&b->voter), &channel, &generation, &until);
  if (st != FW_REKEY_OK) {
    error_response(b, seq,
                   st == FW_REKEY_BAD_TAG    ? FW_ERR_REKEY_BAD_TAG
                   : st == FW_REKEY_STALE    ? FW_ERR_REKEY_STALE
                   : st == FW_REKEY_NO_EPOCH ? FW_ERR_REKEY_NO_EPOCH
                                             : FW_ERR_MALFORMED_REQUEST);
    return;
  }
  fw_writer w;
  fw_writer_init(&w, b->out, sizeof b->out);
  fw_write_u8(&w, FW_RSP_REKEYED);
  fw_write_uvar(&w, seq);
  fw_write_u8(&w, channel);
  fw_write_uvar(&w, generation);
  fw_write_uvar(&w, until);
  send_payload(b, &w);
}

static int finite(double x) { return x - x == 0.0; }

static void handle_request(fw_board *b, const uint8_t *payload, size_t n) {
  fw_reader r;
  fw_reader_init(&r, payload, n);
  const uint8_t type = fw_read_u8(&r);
  const uint64_t seq = fw_read_uvar(&r);
  if (r.status != FW_DEC_OK) {
    error_response(b, 0, FW_ERR_MALFORMED_REQUEST);
    return;
  }
  if (type == FW_REQ_PING) {
    handle_ping(b, seq);
    return;
  }
  if (b->prov_status != FW_PROV_OK) {
    error_response(b, seq, FW_ERR_NOT_PROVISIONED);
    return;
  }
  if (type == FW_REQ_DELIVER || type == FW_REQ_TICK) {
    const double now = fw_read_f64(&r);
    const uint64_t frame = type == FW_REQ_TICK ? fw_read_uvar(&r) : 0u;
    const int bad = r.status != FW_DEC_OK || !finite(now) ||
                    (type == FW_REQ_TICK && fw_reader_remaining(&r) != 0u);
    if (bad) {
      error_response(b, seq, FW_ERR_MALFORMED_REQUEST);
      return;
    }
    fw_writer w;
    fw_rejoin_learn(&b->rejoin, type == FW_REQ_TICK ? frame : fw_rejoin_frame_at(&b->prov.voter, now));
    b->current_seq = seq;
    b->io_ticks = 0;
    const uint32_t t0 = fw_port_ticks();
    fw_writer_init(&w, b->out, sizeof b->out);
    to_actuator = NULL;
    if (type == FW_REQ_DELIVER) handle_deliver(b, &w, &r, seq, now);
    else handle_tick(b, &w, seq, now, frame);
    const uint32_t dt = fw_port_ticks() - t0 - b->io_ticks;
    b->work_requests++;
    b->work_ticks += dt;
    if (dt > b->work_max_ticks) b->work_max_ticks = dt;
    send_payload(b, &w);
    if (to_actuator != NULL) fw_port_actuator(to_actuator);
    return;
  }
  if (type == FW_REQ_REKEY) {
    handle_rekey(b, payload, n, n - fw_reader_remaining(&r), seq);
    return;
  }
  if (type == FW_REQ_STATUS && fw_reader_remaining(&r) == 0u) {
    handle_status(b, seq);
    return;
  }
#ifdef FW_TEST_HOOKS
  if (type == FW_REQ_HANG) fw_port_hang();
#endif
  error_response(b, seq, FW_ERR_UNKNOWN_REQUEST);
}

void fw_board_feed(fw_board *b, uint8_t byte) {
  const size_t n = fw_deframer_push(&b->deframer, byte);
  if (n > 0u) handle_request(b, b->deframer.decoded, n);
}
