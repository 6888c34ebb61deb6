#include "link.h"

static void write_list(fw_writer *w, const fw_channel_list *l) {
  fw_write_u8(w, l->n);
  for (uint8_t i = 0; i < l->n; i++) fw_write_u8(w, l->ch[i]);
}

void fw_link_write_events(fw_writer *w, const fw_events *ev) {
  fw_write_u8(w, ev->n);
  for (uint8_t i = 0; i < ev->n; i++) {
    const fw_event *e = &ev->e[i];
    fw_write_u8(w, e->kind);
    fw_write_u8(w, e->channel);
    fw_write_uvar(w, e->frame);
    fw_write_u8(w, e->strikes);
  }
}


static void write_command(fw_writer *w, const fw_voter *v, const fw_command *c) {
  for (unsigned i = 0; i < v->cfg.discrete_n; i++) fw_write_uvar(w, c->discrete[i]);
  for (unsigned i = 0; i < v->cfg.analog_n; i++) fw_write_f64(w, c->analog[i]);
}

void fw_link_write_judgment(fw_writer *w, const fw_voter *v, const fw_judgment *j) {
  fw_write_uvar(w, j->frame);
  fw_write_f64(w, j->time);
  fw_write_u8(w, j->has_reference);
  if (j->has_reference) write_command(w, v, &j->reference);
  fw_write_u8(w, j->judged);
  write_list(w, &j->agreed);
  write_list(w, &j->dissenters);
  fw_link_write_events(w, &j->events);
}

/*
 * frame uvar, time f64, kind u8, reason u8, early u8, earlyRound u8, value (discrete_n uvar, analog_n f64),
 * reported, contributors, dissenters, missing, latched (each: count u8, channel indices), strikes (m x u8),
 * judgments u8 (the JUDGMENT frames sent before this response), consecutiveMisses uvar.
 */
void fw_link_write_decision(fw_writer *w, const fw_voter *v, const fw_decision *d) {
  if (d == NULL) {
    fw_write_u8(w, 0);
    return;
  }
  fw_write_u8(w, 1);
  fw_write_uvar(w, d->frame);
  fw_write_f64(w, d->time);
  fw_write_u8(w, d->kind);
  fw_write_u8(w, d->reason);
  fw_write_u8(w, d->early);
  fw_write_u8(w, d->early_round);
  write_command(w, v, &d->value);
  write_list(w, &d->reported);
  write_list(w, &d->contributors);
  write_list(w, &d->dissenters);
  write_list(w, &d->missing);
  write_list(w, &d->latched);
  for (unsigned i = 0; i < v->cfg.m; i++) fw_write_u8(w, d->strikes[i]);
  fw_write_u8(w, d->judgments);
  fw_write_uvar(w, d->consecutive_misses);
}
