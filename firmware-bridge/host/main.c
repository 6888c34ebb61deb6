/*
 * Host build of the actuator interface unit (POSIX). The link is stdin/stdout, a serial device or pty
 * (--link PATH), or a Unix stream socket (--unix PATH). The provisioning record is a file (what flash holds on
 * a board).
 *
 * Watchdog: a one-shot ITIMER_PROF (CPU time, so a loaded machine or an idle link never trips it) re-armed on
 * every pass of the frame loop. When it fires, the frame loop has spun for that long without coming round:
 * the process re-executes itself on the same link, as a board resets, and boots with reset cause "watchdog".
 *
 *   triplex-fw-host --provision voter.prov [--link PATH | --unix PATH] [--actuator PATH] [--nvm PATH]
 *                   [--watchdog-ms N] [--boot-count N] [--reset-cause C]
 *
 * --nvm: the file that stands for the board's non-volatile memory (nvm.h, the boot epoch), created if missing
 * and kept across runs: a power cycle is this process stopped and started again on the same file. Writes are
 * fsynced before the epoch is used. Without it the unit has no epoch and refuses every REKEY.
 *
 * --watchdog-ms: the CPU-time watchdog, ms (0: none); default the unit's own from its provisioning record,
 * fw_board_watchdog_ms (half of failsafeAfterMisses frame periods).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../src/board.h"
#include "../src/nvm.h"
#include "../src/port.h"

static int link_in = 0;
static int link_out = 1;
static int actuator_fd = -1;
static int nvm_fd = -1;
/* -1: from the provisioning record (fw_board_watchdog_ms); --watchdog-ms overrides it (0: none). */
static long watchdog_ms = -1;
static fw_board board;
static uint8_t provision[FW_MAX_PROVISION_BYTES];

/* Prepared before the watchdog can fire: the handler only calls async-signal-safe execv. */
#define MAX_ARGS 24
static char *reexec_argv[MAX_ARGS + 1];
static char boot_count_arg[24];

static void write_all(int fd, const uint8_t *bytes, size_t n) {
  size_t done = 0;
  /* Bounded: each pass writes at least one byte or fails for good. */
  while (done < n) {
    const ssize_t k = write(fd, bytes + done, n - done);
    if (k > 0) {
      done += (size_t)k;
    } else if (k < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    } else {
      _exit(3); /* the link is gone: nothing left to vote for */
    }
  }
}

void fw_port_write(const uint8_t *bytes, size_t n) { write_all(link_out, bytes, n); }

void fw_port_actuator(const fw_decision *d) {
  if (actuator_fd < 0) return;
  /* ACTUATOR frame: 0xA0, frame uvar, kind u8, the written value (discrete uvar..., analog f64...). */
  uint8_t payload[64];
  uint8_t wire[FW_FRAME_MAX(64u)];
  fw_writer w;
  fw_writer_init(&w, payload, sizeof payload);
  fw_write_u8(&w, 0xA0u);
  fw_write_uvar(&w, d->frame);
  fw_write_u8(&w, d->kind);
  for (unsigned i = 0; i < board.voter.cfg.discrete_n; i++) fw_write_uvar(&w, d->value.discrete[i]);
  for (unsigned i = 0; i < board.voter.cfg.analog_n; i++) fw_write_f64(&w, d->value.analog[i]);
  const size_t n = fw_frame_encode(payload, w.length, wire, sizeof wire);
  if (!w.overflow && n > 0u) write_all(actuator_fd, wire, n);
}

uint32_t fw_port_stack_used(void) { return 0; }

int fw_port_nvm_read(uint8_t *bytes, size_t n) {
  if (nvm_fd < 0) return 0;
  memset(bytes, 0xFF, n); /* a new file is an erased part */
  size_t done = 0;
  /* Bounded: each pass reads at least one byte, or stops. */
  while (done < n) {
    const ssize_t k = pread(nvm_fd, bytes + done, n - done, (off_t)done);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return 0;
    if (k == 0) break;
    done += (size_t)k;
  }
  return 1;
}

int fw_port_nvm_write(size_t offset, const uint8_t *bytes, size_t n) {
  if (nvm_fd < 0) return 0;
  size_t done = 0;
  while (done < n) {
    const ssize_t k = pwrite(nvm_fd, bytes + done, n - done, (off_t)(offset + done));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return 0;
    done += (size_t)k;
  }
  return fsync(nvm_fd) == 0;
}

uint32_t fw_port_ticks(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

void fw_invariant_failed(int line) {
  fprintf(stderr, "triplex-fw-host: invariant failed at voter.c:%d\n", line);
  abort();
}

#ifdef FW_TEST_HOOKS
void fw_port_hang(void) {
  volatile unsigned long spin = 0;
  for (;;) spin++;
}
#endif

static void on_watchdog(int sig) {
  (void)sig;
  execv("/proc/self/exe", reexec_argv);
  _exit(4); /* could not reset: die, the supervisor restarts the unit */
}

static void stroke(void) {
  if (watchdog_ms <= 0) return;
  struct itimerval t;
  memset(&t, 0, sizeof t);
  t.it_value.tv_sec = watchdog_ms / 1000;
  t.it_value.tv_usec = (watchdog_ms % 1000) * 1000;
  setitimer(ITIMER_PROF, &t, NULL);
}

static void arm_watchdog(void) {
  struct sigaction sa;
  sigset_t set;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_watchdog;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPROF, &sa, NULL);
  /* After a watchdog re-exec the signal is still blocked (execve keeps the mask). */
  sigemptyset(&set);
  sigaddset(&set, SIGPROF);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  stroke();
}

static int open_serial(const char *path) {
  const int fd = open(path, O_RDWR | O_NOCTTY);
  if (fd < 0) return -1;
  if (isatty(fd)) {
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
      /* Raw mode by hand (cfmakeraw is not POSIX). */
      t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
      t.c_oflag &= ~(tcflag_t)OPOST;
      t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
      t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
      t.c_cflag |= CS8;
      t.c_cc[VMIN] = 1;
      t.c_cc[VTIME] = 0;
      tcsetattr(fd, TCSANOW, &t);
    }
  }
  return fd;
}

static int open_unix(const char *path) {
  struct sockaddr_un a;
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || strlen(path) >= sizeof a.sun_path) return -1;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, path, strlen(path));
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  return fd;
}

static size_t read_file(const char *path, uint8_t *out, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return 0;
  const size_t n = fread(out, 1, cap, f);
  const int more = fgetc(f) != EOF;
  fclose(f);
  return more ? cap + 1u : n; /* too long: reported as such by the parser */
}

static void usage(void) {
  fprintf(stderr,
          "usage: triplex-fw-host --provision FILE [--link PATH | --unix PATH] [--actuator PATH] [--nvm PATH]\n"
          "                       [--watchdog-ms N] [--boot-count N] [--reset-cause C]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *prov_path = NULL;
  unsigned long boot_count = 0;
  unsigned long reset_cause = FW_RESET_POWER_ON;
  int argn = 0;
  if (argc > MAX_ARGS - 4) usage();
  reexec_argv[argn++] = argv[0];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v == NULL) usage();
    if (strcmp(a, "--boot-count") == 0) {
      boot_count = strtoul(v, NULL, 10);
    } else if (strcmp(a, "--reset-cause") == 0) {
      reset_cause = strtoul(v, NULL, 10);
    } else {
      reexec_argv[argn++] = argv[i];
      reexec_argv[argn++] = argv[i + 1];
      if (strcmp(a, "--provision") == 0) prov_path = v;
      else if (strcmp(a, "--link") == 0) link_in = link_out = open_serial(v);
      else if (strcmp(a, "--unix") == 0) link_in = link_out = open_unix(v);
      else if (strcmp(a, "--actuator") == 0) actuator_fd = open(v, O_WRONLY | O_CREAT | O_APPEND, 0644);
      else if (strcmp(a, "--nvm") == 0) nvm_fd = open(v, O_RDWR | O_CREAT, 0644);
      else if (strcmp(a, "--watchdog-ms") == 0) watchdog_ms = strtol(v, NULL, 10);
      else usage();
      if (link_in < 0) {
        fprintf(stderr, "triplex-fw-host: cannot open link %s: %s\n", v, strerror(errno));
        return 2;
      }
    }
    i++;
  }
  snprintf(boot_count_arg, sizeof boot_count_arg, "%lu", boot_count + 1u);
  reexec_argv[argn++] = "--boot-count";
  reexec_argv[argn++] = boot_count_arg;
  reexec_argv[argn++] = "--reset-cause";
  reexec_argv[argn++] = "1";
  reexec_argv[argn] = NULL;

  size_t prov_n = 0;
  if (prov_path != NULL) prov_n = read_file(prov_path, provision, sizeof provision);
  const uint32_t epoch = fw_nvm_advance();
  if (nvm_fd >= 0) close(nvm_fd); /* not kept open across a watchdog re-exec */
  fw_board_init(&board, prov_path != NULL ? provision : NULL, prov_n, (uint32_t)boot_count,
                (uint8_t)reset_cause, epoch);
  if (watchdog_ms < 0) watchdog_ms = (long)fw_board_watchdog_ms(&board);
  arm_watchdog();

  /* The frame loop: every pass strokes the watchdog; a blocked read() uses no CPU time. */
  static uint8_t chunk[4096];
  for (;;) {
    stroke();
    const ssize_t n = read(link_in, chunk, sizeof chunk);
    if (n == 0) return 0; /* the rig closed the link */
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return 3;
    }
    for (ssize_t i = 0; i < n; i++) fw_board_feed(&board, chunk[i]);
  }
}
