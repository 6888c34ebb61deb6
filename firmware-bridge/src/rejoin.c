#include "rejoin.h"

void fw_rejoin_init(fw_rejoin *r, int armed) {
  r->armed = armed ? 1u : 0u;
  r->joining = 0;
  r->floor = 0;
  r->rejoin_frame = 0;
  r->refused = 0;
}

uint64_t fw_rejoin_frame_at(const fw_voter_config *c, double now) {
  const double x = (now - c->origin) / c->period;
  /* Before the first frame, or not a usable number (a checked config and a finite time make it one). */
  if (!(x >= 1.0)) return 0u;
  if (x >= 9007199254740991.0) return 9007199254740991ull;
  uint64_t k = (uint64_t)x;
  /* The division can round across a frame boundary: settle on origin + k * period <= now, as deadlineOf
   * computes frame starts (at most one step either way). */
  if (k > 0u && c->origin + (double)k * c->period > now) k--;
  else if (c->origin + (double)(k + 1u) * c->period <= now) k++;
  return k;
}

void fw_rejoin_learn(fw_rejoin *r, uint64_t frame) {
  if (!r->armed) return;
  r->armed = 0;
  r->joining = 1;
  r->floor = frame;
  r->rejoin_frame = frame;
}

int fw_rejoin_refuses(fw_rejoin *r, uint64_t frame) {
  if (frame >= r->floor) return 0;
  r->refused++;
  return 1;
}

void fw_rejoin_deadline_decided(fw_rejoin *r, uint64_t frame) {
  if (!r->joining || frame != r->rejoin_frame) return;
  r->joining = 0;
  r->floor = frame + 1u;
}
