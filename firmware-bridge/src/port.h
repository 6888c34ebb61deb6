/*
 * What a platform gives the unit (host/main.c for POSIX, m3/ for the Cortex-M3). The core calls only these.
 */
#ifndef FW_PORT_H
#define FW_PORT_H
#include <stddef.h>
#include <stdint.h>
#include "voter.h"

/* Send bytes on the link to the rig (blocking until queued). */
void fw_port_write(const uint8_t *bytes, size_t n);
/* The actuator command out: what the actuator gets for this frame (written, held or failsafe). */
void fw_port_actuator(const fw_decision *d);
/* A free-running tick counter for the cycle statistics (0 where the platform has none). */
uint32_t fw_port_ticks(void);
/* Bytes of stack used so far (a painted-stack high-water mark; 0 where the platform cannot tell). */
uint32_t fw_port_stack_used(void);
/* A broken invariant: a bug in the unit. The platform stops (the watchdog then resets the board). */
void fw_invariant_failed(int line);
#ifdef FW_TEST_HOOKS
/* Test builds only: hang in the frame loop (the watchdog must reset the board). */
void fw_port_hang(void);
#endif

#endif
