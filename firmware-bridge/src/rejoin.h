/*
 * The rejoin floor: after the unit restarts, OUTPUTs for frames before the one it rejoined at are refused, and
 * for the rejoin frame itself once its deadline has been decided. A restarted voter holds no receipts for those
 * frames, so each copy would pass its duplicate check and count as late against its channel; after a restart
 * the only copies of them still about are old ones, and anyone on the network can replay authentic OUTPUTs
 * recorded before the restart (every correct channel would look late). The same rule as the TypeScript
 * VoterHost after its watchdog reset (src/runtime/firmware/rejoin-floor.ts).
 *
 * The unit has no clock of its own that the rig shares, so the rejoin frame is learnt from the first DELIVER
 * or TICK after the restart: a TICK names its frame, a DELIVER carries the rig's time, which lies in the frame
 * the rig is in (the rig and its link are trusted; what they forward from the network is not).
 */
#ifndef FW_REJOIN_H
#define FW_REJOIN_H
#include <stdint.h>
#include "voter.h"

typedef struct {
  uint8_t armed;   /* restarted: the floor is learnt from the next DELIVER or TICK */
  uint8_t joining; /* the rejoin frame is not decided yet */
  uint64_t floor;  /* frames below it are refused */
  uint64_t rejoin_frame;
  uint64_t refused;
} fw_rejoin;

/* armed: the unit restarted with a past (a watchdog reset, or a power-on after an earlier boot). */
void fw_rejoin_init(fw_rejoin *r, int armed);
/* The frame the rig's time `now` lies in (0 before the first frame), for the voter's timing. */
uint64_t fw_rejoin_frame_at(const fw_voter_config *c, double now);
/* The first DELIVER or TICK since the restart says the rig is in frame `frame`; later ones change nothing. */
void fw_rejoin_learn(fw_rejoin *r, uint64_t frame);
/* Whether an OUTPUT for `frame` is refused (and counted) as from before the restart. */
int fw_rejoin_refuses(fw_rejoin *r, uint64_t frame);
/* Frame `frame` was decided at its deadline: once it is the rejoin frame, the floor moves past it. */
void fw_rejoin_deadline_decided(fw_rejoin *r, uint64_t frame);

#endif
